/** MongoDB's duplicate-key code: an insert of an `_id` that exists, the one claim FerretDB serialises. */
const DUPLICATE_KEY = 11000;

export function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === DUPLICATE_KEY
  );
}

/**
 * The write errors of a bulk insert when every one is a duplicate key (some `_id`s existed);
 * undefined when the insert failed otherwise. The driver reports one error as an object, several
 * as an array.
 */
export function duplicateKeyWriteErrors(
  error: unknown,
): { index?: number; err?: { index?: number } }[] | undefined {
  const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
  const errors = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  if (errors.length === 0 || !errors.every(isDuplicateKey)) return undefined;
  return errors as { index?: number; err?: { index?: number } }[];
}

/**
 * The indexes of the documents a bulk insert of `count` found there already (their `_id`
 * existed); undefined when it failed for another reason.
 */
export function duplicateKeyIndexes(error: unknown, count: number): number[] | undefined {
  const errors = duplicateKeyWriteErrors(error);
  if (!errors) return undefined;
  return errors
    .map((e) => e.index ?? e.err?.index)
    .filter((i): i is number => typeof i === 'number' && i >= 0 && i < count);
}

/**
 * Most documents one bulk write carries. SQLite has one writer and FerretDB writes a bulk insert
 * in one transaction: a batch's inserts cut into pieces this size let the acknowledgements'
 * inserts in between instead of waiting for the whole batch (measured: ack p99 at c200).
 */
export const BULK_CHUNK = 100;

/**
 * An unordered insert of `docs` in pieces of BULK_CHUNK; true where the document was inserted,
 * false where its `_id` existed. Any other failure is thrown. `beforePiece` runs before each
 * piece (WritePriority.giveWay: acknowledgements first).
 */
export async function insertEachInChunks<T>(
  insert: (chunk: T[]) => Promise<unknown>,
  docs: T[],
  beforePiece: () => Promise<void> = () => Promise.resolve(),
): Promise<boolean[]> {
  const inserted = docs.map(() => true);
  for (let from = 0; from < docs.length; from += BULK_CHUNK) {
    const chunk = docs.slice(from, from + BULK_CHUNK);
    await beforePiece();
    try {
      await insert(chunk);
    } catch (error) {
      const existed = duplicateKeyIndexes(error, chunk.length);
      if (!existed) throw error;
      for (const i of existed) inserted[from + i] = false;
    }
  }
  return inserted;
}
