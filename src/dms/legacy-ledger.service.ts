import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import { Connection, Model, Types } from 'mongoose';
import { duplicateKeyWriteErrors } from '../common/database/duplicate-key';
import { ledgerKey, markerKey, PER_ACCOUNT_KEY } from './ledger-keys';
import { InstagramDmId } from './schemas/instagram-dm-id.schema';
import { InstagramDm } from './schemas/instagram-dm.schema';

const MARKER_COLLECTION = 'igdm_migrations';
/** v1 keyed the ledger by mid alone; v2 is per account (ledger-keys.ts). */
const MARKER_ID = 'instagram_dm_ids-per-account-v2';
const CHUNK = 1_000;

type LedgerDoc = {
  _id: string;
  dm_id?: Types.ObjectId;
  platform_account_id?: string;
  pending?: unknown[];
  created_at?: Date;
};

function onlyDuplicates(error: unknown): boolean {
  return duplicateKeyWriteErrors(error) !== undefined;
}

/**
 * Documents the Python service wrote have no ledger entry, so a mid could only be matched to
 * them by a `message_id` filter, which FerretDB's SQLite backend answers with a full scan (seconds
 * at tens of thousands of DMs), once per new message. Instead the ledger is filled from existing
 * DMs once, in the background at start-up, idempotently (insert-if-absent; several instances
 * may run it together). Until that has finished, ingest keeps the `message_id` lookup; afterwards
 * every message is matched by `_id` only.
 *
 * The same run moves a ledger written before keys were per account (`<mid>`, `<mid>#unread`,
 * `<comment>#private_reply`) to `<account>:…` keys, by inserting the new key and then deleting
 * the old one, so a crash half-way is finished by the next start.
 */
@Injectable()
export class LegacyLedgerService implements OnApplicationBootstrap {
  private readonly logger = new Logger(LegacyLedgerService.name);
  private complete = false;
  private running?: Promise<void>;

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    @InjectModel(InstagramDmId.name) private readonly ledger: Model<InstagramDmId>,
    @InjectConnection() private readonly connection: Connection,
  ) {}

  /** True until every DM stored before igdm took over has a ledger entry. */
  mayHaveUnledgeredDms(): boolean {
    return !this.complete;
  }

  onApplicationBootstrap(): void {
    this.running = this.backfill().catch((error: unknown) => {
      // Ingest stays correct (it keeps the message_id lookup); it is only slower.
      this.logger.error({ err: error }, 'ledger backfill failed; legacy lookups stay on');
    });
  }

  /** Fills the ledger from DMs that have none. Safe to call again (e.g. after importing data). */
  async backfill(): Promise<void> {
    const markers = this.connection.collection<{ _id: string; done_at: Date; entries: number }>(
      MARKER_COLLECTION,
    );
    if (!this.running && (await markers.findOne({ _id: MARKER_ID }))) {
      this.complete = true;
      return;
    }
    const started = Date.now();
    const moved = await this.moveUnscopedKeys();
    let batch: LedgerDoc[] = [];
    let written = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      try {
        const result = await this.ledger.insertMany(batch, { ordered: false, rawResult: true });
        written += result.insertedCount;
      } catch (error) {
        // Entries that exist already (igdm's own, or another instance's) are what we want.
        written += (error as { insertedDocs?: unknown[] }).insertedDocs?.length ?? 0;
      }
      batch = [];
    };
    // Oldest first, so the first document of a legacy duplicate group is the one adopted.
    const cursor = this.dms
      .find(
        { message_id: { $exists: true }, platform_account_id: { $exists: true } },
        { _id: 1, message_id: 1, platform_account_id: 1 },
      )
      .sort({ _id: 1 })
      .lean()
      .cursor();
    const seen = new Set<string>();
    for await (const dm of cursor) {
      if (!dm.message_id || !dm.platform_account_id) continue;
      const key = ledgerKey(dm.platform_account_id, dm.message_id);
      if (seen.has(key)) continue;
      seen.add(key);
      batch.push({
        _id: key,
        dm_id: dm._id,
        platform_account_id: dm.platform_account_id,
        created_at: new Date(),
      });
      if (batch.length >= CHUNK) await flush();
    }
    await flush();
    await markers.updateOne(
      { _id: MARKER_ID },
      { $set: { done_at: new Date(), entries: written, moved } },
      { upsert: true },
    );
    this.complete = true;
    this.logger.log(
      { entries: written, moved, ms: Date.now() - started },
      'ledger backfill complete',
    );
  }

  /**
   * Gives every key written before the ledger was per account its account prefix; returns how
   * many were moved. A `#claim` marker only mattered while its entry had no DM: dropped. An entry
   * or marker whose account cannot be told is dropped too: it could only ever match the wrong
   * tenant.
   */
  private async moveUnscopedKeys(): Promise<number> {
    const unscoped: LedgerDoc[] = [];
    // One pass over the ledger, once: the per-account keys are skipped, the rest is small
    // enough to hold (one entry per message igdm stored before this version).
    for await (const doc of this.ledger.find({}).lean<LedgerDoc>().cursor())
      if (!PER_ACCOUNT_KEY.test(doc._id)) unscoped.push(doc);
    if (unscoped.length === 0) return 0;
    const entryAccount = new Map(
      unscoped
        .filter((d) => !d._id.includes('#') && d.platform_account_id)
        .map((d) => [d._id, d.platform_account_id!]),
    );
    const copies: LedgerDoc[] = [];
    for (const doc of unscoped) {
      const [id, marker] = doc._id.split('#', 2);
      const account = marker === 'unread' ? entryAccount.get(id) : doc.platform_account_id;
      if (!account || marker === 'claim') continue;
      const key = marker ? markerKey(account, id, marker as 'unread' | 'private_reply') : null;
      copies.push({ ...doc, _id: key ?? ledgerKey(account, id) });
    }
    for (let i = 0; i < copies.length; i += CHUNK) {
      try {
        await this.ledger.insertMany(copies.slice(i, i + CHUNK), { ordered: false });
      } catch (error) {
        // Keys written since by ingest (or by another instance's run) are kept as they are;
        // anything else stops the run before an old key is deleted.
        if (!onlyDuplicates(error)) throw error;
      }
    }
    for (let i = 0; i < unscoped.length; i += CHUNK) {
      const ids = unscoped.slice(i, i + CHUNK).map((d) => d._id);
      await this.ledger.deleteMany({ _id: { $in: ids } });
    }
    return copies.length;
  }
}
