/**
 * Runs tasks that share a key one after another, tasks of different keys concurrently. A failed
 * task does not stop the ones queued behind it. Keys are forgotten once their queue drains.
 */
export class KeyedSerialQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return next;
  }

  /** Keys with queued or running work (diagnostics, tests). */
  get size(): number {
    return this.tails.size;
  }
}
