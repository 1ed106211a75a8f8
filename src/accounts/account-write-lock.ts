import { Injectable } from '@nestjs/common';
import type { Types } from 'mongoose';
import { KeyedSerialQueue } from '../common/concurrency/keyed-serial-queue';

/**
 * Serialises the writes to one `accounts` document in this process. FerretDB (SQLite) rewrites a
 * whole document on every update without locking, so a reconciliation's subscription check that
 * lands while a refresh or a delete writes the same account can undo that write (a deleted
 * account's token coming back). On MongoDB every update is atomic per document and this only
 * orders them. Hold it for the write alone, never across a Graph call.
 */
@Injectable()
export class AccountWriteLock {
  private readonly queue = new KeyedSerialQueue();

  run<T>(accountId: Types.ObjectId | string, write: () => Promise<T>): Promise<T> {
    return this.queue.run(String(accountId), write);
  }
}
