import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { randomUUID } from 'node:crypto';
import { ConnectLock } from './schemas/connect-lock.schema';

const DUPLICATE_KEY = 11000;
/** Longest a holder keeps its Instagram account (Meta calls included); a crash frees it after. */
const LOCK_MS = 60_000;
/** How long a second claim of the same account waits for the first before giving up. */
const LOCK_WAIT_MS = 10_000;
const LOCK_POLL_MS = 50;

/**
 * Claims an Instagram account across instances (a row in `account_connect_locks`, `_id` = ig id)
 * while a connect or a delete of it talks to Meta and writes: a delete that lands during a
 * reconnect's Meta calls would otherwise be undone by the reconnect's write.
 */
@Injectable()
export class ConnectLockService {
  private readonly logger = new Logger(ConnectLockService.name);

  constructor(@InjectModel(ConnectLock.name) private readonly locks: Model<ConnectLock>) {}

  /** Runs `work` holding the account; `null` when another holder kept it past the wait. */
  async withLock<T>(igId: string, work: () => Promise<T>): Promise<{ value: T } | null> {
    const owner = await this.acquire(igId);
    if (!owner) return null;
    try {
      return { value: await work() };
    } finally {
      await this.release(igId, owner);
    }
  }

  private async acquire(igId: string): Promise<string | null> {
    const owner = randomUUID();
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const now = new Date();
      try {
        await this.locks.collection.insertOne({
          _id: igId,
          owner,
          until: new Date(now.getTime() + LOCK_MS),
        } as never);
        return owner;
      } catch (error) {
        if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      }
      const held = await this.locks.findById(igId).lean<ConnectLock>().exec();
      if (held && held.until <= now) {
        await this.locks.collection.deleteOne({ _id: igId as never, owner: held.owner });
        continue;
      }
      if (Date.now() >= deadline) {
        this.logger.warn({ igId }, 'another connect or delete of this account is running');
        return null;
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }

  private async release(igId: string, owner: string): Promise<void> {
    try {
      await this.locks.collection.deleteOne({ _id: igId as never, owner });
    } catch (error) {
      // Stale after LOCK_MS anyway.
      this.logger.warn({ igId, err: (error as Error).name }, 'connect lock: release failed');
    }
  }
}
