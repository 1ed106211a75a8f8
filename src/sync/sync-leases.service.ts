import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { AccountSyncLease } from './schemas/account-sync-lease.schema';

const DUPLICATE_KEY = 11000;

function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === DUPLICATE_KEY;
}

/** A held lock: renew it while working, release it when done. */
export interface SyncLock {
  readonly key: string;
  renew(ttlMs: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * Claims of sync work across instances, by insert-once documents (see the schema). A lock whose
 * holder died is taken over once its `until` has passed.
 */
@Injectable()
export class SyncLeases {
  /** Lease owner of this process. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    @InjectModel(AccountSyncLease.name) private readonly leases: Model<AccountSyncLease>,
  ) {}

  /** True for exactly one caller per key (across instances) until the row is purged. */
  async claimOnce(key: string, until: Date): Promise<boolean> {
    try {
      await this.leases.collection.insertOne({ _id: key, owner: this.instanceId, until } as never);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async lock(key: string, ttlMs: number): Promise<SyncLock | null> {
    const owner = `${this.instanceId}:${randomUUID()}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.leases.collection.insertOne({
          _id: key,
          owner,
          until: new Date(Date.now() + ttlMs),
        } as never);
        return this.handle(key, owner);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      const held = await this.leases.findById(key).lean<AccountSyncLease>().exec();
      if (held && new Date(held.until).getTime() > Date.now()) return null;
      // Stale: its instance died while holding it. Remove exactly that row and try once more.
      if (held) await this.leases.collection.deleteOne({ _id: key as never, owner: held.owner });
    }
    return null;
  }

  async isHeld(key: string): Promise<boolean> {
    const held = await this.leases.findById(key).lean<AccountSyncLease>().exec();
    return !!held && new Date(held.until).getTime() > Date.now();
  }

  /** Removes claims whose time has passed (window claims are never released otherwise). */
  async purge(before: Date): Promise<number> {
    const res = await this.leases.collection.deleteMany({ until: { $lt: before } });
    return res.deletedCount;
  }

  private handle(key: string, owner: string): SyncLock {
    const mine = { _id: key as never, owner };
    return {
      key,
      renew: async (ttlMs: number) => {
        await this.leases.collection.updateOne(mine, {
          $set: { until: new Date(Date.now() + ttlMs) },
        });
      },
      release: async () => {
        await this.leases.collection.deleteOne(mine);
      },
    };
  }
}
