/**
 * The tests' one way to wait: poll `probe` until it returns a truthy value (a probe that throws is
 * tried again), then return that value. Tests wait for state, never for a fixed time.
 */
export async function eventually<T>(
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 25_000,
  /** Between tries; a probe that calls the API must stay under the per-user rate limit. */
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw lastError instanceof Error
        ? lastError
        : new Error('eventually: condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Every webhook delivery received so far has been processed (none is pending any more). */
export function deliveriesSettled(db: {
  collection(name: string): { countDocuments(filter: object): Promise<number> };
}): Promise<true> {
  return eventually(async () =>
    (await db.collection('webhook_pending').countDocuments({})) === 0 ? true : undefined,
  );
}
