import { KeyedSerialQueue } from '../common/concurrency/keyed-serial-queue';
import type { InstagramConversation } from './schemas/instagram-conversation.schema';

const RECENT_THREADS = 2_000;
const RECENT_THREAD_MS = 5_000;

/**
 * How ConversationsService writes one thread: in order, and without reading it back.
 *
 * FerretDB (SQLite) rewrites the whole document on every update, without locking: two updates
 * of one thread at the same moment can lose one ($inc included). Writes of one thread are
 * therefore run one after another in this process (`run`). On MongoDB the operators are atomic.
 *
 * Threads this process wrote lately are remembered as the write left them (`current`). Under
 * load one thread is recorded every batch; reading it back before each write doubled the cost of
 * a message on a database that answers one request at a time. Every write refreshes or drops its
 * entry; the age limit bounds how long a write by another instance can go unseen here (on
 * FerretDB two instances' writes of one thread are not ordered anyway; see docs/contracts.md).
 */
export class ThreadWrites {
  private readonly queue = new KeyedSerialQueue();
  private readonly recent = new Map<string, { doc: InstagramConversation | null; at: number }>();

  constructor(private readonly read: (id: string) => Promise<InstagramConversation | null>) {}

  /**
   * Runs a write of thread `id` after the ones queued before it. A write that does not hand its
   * result to `remember` (`refreshes`) drops the thread from `recent`, as does a failed one.
   */
  run<T>(id: string, write: () => Promise<T>, refreshes = false): Promise<T> {
    return this.queue.run(id, async () => {
      let failed = true;
      try {
        const result = await write();
        failed = false;
        return result;
      } finally {
        if (failed || !refreshes) this.forget(id);
      }
    });
  }

  /** The thread: as this process last wrote it when that is recent, else read by `_id`. */
  async current(id: string): Promise<InstagramConversation | null> {
    const hit = this.recent.get(id);
    if (hit && Date.now() - hit.at < RECENT_THREAD_MS) return hit.doc;
    const doc = await this.read(id);
    this.remember(id, doc);
    return doc;
  }

  remember(id: string, doc: InstagramConversation | null): void {
    this.recent.delete(id); // re-inserted last: the Map's order is the eviction order
    this.recent.set(id, { doc, at: Date.now() });
    if (this.recent.size > RECENT_THREADS) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
  }

  /** A write not read back: the next one reads the thread again. */
  forget(id: string): void {
    this.recent.delete(id);
  }

  /** An account's threads were deleted or rewritten in bulk (purge, resumed profiles). */
  forgetAccount(accountId: string): void {
    for (const id of this.recent.keys()) if (id.startsWith(`${accountId}:`)) this.recent.delete(id);
  }
}
