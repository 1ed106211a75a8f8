import { Injectable } from '@nestjs/common';
import { KeyedSerialQueue } from '../common/concurrency/keyed-serial-queue';
import type { InstagramDm } from './schemas/instagram-dm.schema';

type ThreadFields = Pick<InstagramDm, 'platform_account_id' | 'direction'> &
  Partial<Pick<InstagramDm, 'customer_id' | 'sender_id' | 'recipient_id'>>;

/** The customer of a DM; legacy documents have no customer_id, so it comes from the direction. */
export function customerOf(
  dm: Pick<InstagramDm, 'direction'> &
    Partial<Pick<InstagramDm, 'customer_id' | 'sender_id' | 'recipient_id'>>,
): string | undefined {
  return (
    dm.customer_id ?? (dm.direction === 'inbound' ? dm.sender_id : dm.recipient_id) ?? undefined
  );
}

/**
 * Serialises writes to the DM documents of one thread (account + customer) in this process.
 * FerretDB (SQLite) rewrites a whole document on every update without locking, so two updates of
 * one DM at the same moment (an echo merge and a name fill, a reaction and a read receipt) can
 * lose one of them. A read-modify-write (reactions, merges) reads inside the lock too.
 * On MongoDB every update is atomic per document and this only orders them.
 * Never take the lock from inside itself: a thread's writes must not wait on that thread.
 */
@Injectable()
export class DmWriteLock {
  private readonly queue = new KeyedSerialQueue();

  forThread<T>(
    accountId: string,
    customerId: string | undefined,
    write: () => Promise<T>,
  ): Promise<T> {
    return this.queue.run(`${accountId}:${customerId ?? ''}`, write);
  }

  forDm<T>(dm: ThreadFields, write: () => Promise<T>): Promise<T> {
    return this.forThread(dm.platform_account_id, customerOf(dm), write);
  }
}
