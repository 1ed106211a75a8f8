import { WritePriority } from '../../database/write-priority';
import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { KeyedSerialQueue } from '../../common/concurrency/keyed-serial-queue';
import { LegacyLedgerService } from '../legacy-ledger.service';
import { ledgerKey, markerKey, midOfKey } from '../ledger-keys';
import { InstagramDmId } from '../schemas/instagram-dm-id.schema';
import { InstagramDm } from '../schemas/instagram-dm.schema';
import { insertEachInChunks, isDuplicateKey } from '../../common/database/duplicate-key';
import type { PendingEntry, StoredDm } from './ingest.types';

/** A ledger document: an entry (`<account>:<mid>`) or a marker (`…#unread`, `…#claim`, …). */
export type LedgerDoc = Record<string, unknown> & { _id: string };

/**
 * The `instagram_dm_ids` ledger: one entry per mid naming its one document, plus one-time
 * markers. Every claim is decided by inserting, since an insert of an existing `_id` is the only
 * write FerretDB never lets two writers both win.
 */
@Injectable()
export class DmLedger {
  /**
   * Ledger updates of one mid run one after another in this process: FerretDB rewrites the whole
   * entry on update, so setting dm_id and pushing a pending event at once could lose one.
   */
  private readonly writes = new KeyedSerialQueue();

  constructor(
    @InjectModel(InstagramDmId.name) private readonly ledger: Model<InstagramDmId>,
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    private readonly legacyLedger: LegacyLedgerService,
    private readonly priority: WritePriority,
  ) {}

  /** Inserts a ledger document; false when its `_id` exists already. */
  async insertOnce(doc: LedgerDoc): Promise<boolean> {
    try {
      await this.ledger.collection.insertOne(doc as never);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /** Inserts ledger documents unordered; true where the insert won (false: the `_id` exists). */
  insertEach(docs: LedgerDoc[]): Promise<boolean[]> {
    return insertEachInChunks(
      (chunk) => this.ledger.collection.insertMany(chunk as never[], { ordered: false }),
      docs,
      () => this.priority.giveWay(),
    );
  }

  /** A one-time claim (a ledger marker), atomic on every MongoDB-wire server. */
  claimOnce(key: string, accountId?: string): Promise<boolean> {
    return this.insertOnce({
      _id: key,
      ...(accountId !== undefined ? { platform_account_id: accountId } : {}),
      created_at: new Date(),
    });
  }

  findEntry(key: string) {
    return this.ledger.findById(key).lean().exec();
  }

  /**
   * Sets `dm_id` on the ledger unless another writer did; returns the ledger entry.
   * FerretDB serialises nothing for a conditional update or findOneAndUpdate (two writers can
   * both match), but an insert of an existing `_id` always fails. So the winner is decided by
   * inserting: the entry itself when the mid is new, or a `<mid>#claim` marker when events about
   * the mid already created its entry.
   */
  async claimLedger(
    accountId: string,
    mid: string,
    dmId: Types.ObjectId,
  ): Promise<{ _id: string; dm_id?: Types.ObjectId }> {
    const key = ledgerKey(accountId, mid);
    const entry = { dm_id: dmId, platform_account_id: accountId, created_at: new Date() };
    if (await this.insertOnce({ _id: key, ...entry })) return { _id: key, ...entry };
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const other = await this.findEntry(key);
      if (other?.dm_id) return other;
      if (await this.claimOnce(markerKey(accountId, mid, 'claim'))) {
        await this.writes.run(key, () =>
          this.ledger
            .updateOne({ _id: key }, { $set: { dm_id: dmId, platform_account_id: accountId } })
            .exec(),
        );
        return { ...other, _id: key, ...entry };
      }
      // Another writer holds the claim and is about to set dm_id.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('ledger claim did not settle');
  }

  /**
   * Records an event on its message's ledger entry (created when the message is not known), in
   * turn with the mid's other ledger updates (see `writes`).
   */
  pushPending(key: string, pending: PendingEntry, accountId: string) {
    return this.writes.run(key, () => this.pushPendingNow(key, pending, accountId));
  }

  private async pushPendingNow(key: string, pending: PendingEntry, accountId: string) {
    try {
      return await this.ledger
        .findOneAndUpdate(
          { _id: key },
          {
            $push: { pending: pending as unknown as Record<string, unknown> },
            $setOnInsert: { created_at: new Date(), platform_account_id: accountId },
          },
          { upsert: true, new: true },
        )
        .lean()
        .exec();
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return this.ledger
        .findOneAndUpdate(
          { _id: key },
          { $push: { pending: pending as unknown as Record<string, unknown> } },
          { new: true },
        )
        .lean()
        .exec();
    }
  }

  /**
   * The mids among `mids` whose DM is stored (import and reconciliation skip them). One lookup
   * by `_id` each: FerretDB answers `_id: {$in}` with a scan of the whole ledger.
   */
  async knownMids(accountId: string, mids: string[]): Promise<Set<string>> {
    const entries = await Promise.all(
      [...new Set(mids)].map((mid) =>
        this.ledger.findById(ledgerKey(accountId, mid), { dm_id: 1 }).lean().exec(),
      ),
    );
    return new Set(entries.filter((e) => e?.dm_id).map((e) => midOfKey(String(e!._id))));
  }

  /** The message this event targets: ledger first (by _id), then a legacy lookup by message_id. */
  async findTarget(accountId: string, mid: string): Promise<StoredDm | null> {
    const key = ledgerKey(accountId, mid);
    const entry = await this.findEntry(key);
    if (entry?.dm_id) {
      const dm = await this.dms.findById(entry.dm_id).lean<StoredDm>().exec();
      if (dm) return dm;
    }
    if (entry?.dm_id) return null; // claimed, not inserted yet: the storer applies pending events
    if (!this.legacyLedger.mayHaveUnledgeredDms()) return null;
    const legacy = await this.findLegacy(accountId, mid);
    if (legacy) {
      await this.ledger
        .updateOne(
          { _id: key, dm_id: { $exists: false } },
          { $set: { dm_id: legacy._id, platform_account_id: legacy.platform_account_id } },
        )
        .exec();
    }
    return legacy;
  }

  /**
   * A DM the Python service (or igdm before the per-account ledger) stored for this account,
   * found by `message_id` until the start-up backfill has given every DM its entry. Never another
   * account's: the same mid on two connected accounts is two messages.
   */
  findLegacy(accountId: string, mid: string): Promise<StoredDm | null> {
    return this.dms
      .findOne({ message_id: mid, platform_account_id: accountId })
      .sort({ _id: 1 })
      .lean<StoredDm>()
      .exec();
  }
}
