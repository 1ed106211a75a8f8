import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import { Connection, Model, Types } from 'mongoose';
import { InstagramDmId } from './schemas/instagram-dm-id.schema';
import { InstagramDm } from './schemas/instagram-dm.schema';

const MARKER_COLLECTION = 'igdm_migrations';
const MARKER_ID = 'instagram_dm_ids-backfill-v1';
const CHUNK = 1_000;

/**
 * Documents the Python service wrote have no ledger entry, so a mid could only be matched to
 * them by a `message_id` filter, which FerretDB's SQLite backend answers with a full scan (seconds
 * at tens of thousands of DMs), once per new message. Instead the ledger is filled from existing
 * DMs once, in the background at start-up, idempotently (insert-if-absent; several instances
 * may run it together). Until that has finished, ingest keeps the `message_id` lookup; afterwards
 * every message is matched by `_id` only.
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
    let batch: {
      _id: string;
      dm_id: Types.ObjectId;
      platform_account_id?: string;
      created_at: Date;
    }[] = [];
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
      .find({ message_id: { $exists: true } }, { _id: 1, message_id: 1, platform_account_id: 1 })
      .sort({ _id: 1 })
      .lean()
      .cursor();
    const seen = new Set<string>();
    for await (const dm of cursor) {
      if (!dm.message_id || seen.has(dm.message_id)) continue;
      seen.add(dm.message_id);
      batch.push({
        _id: dm.message_id,
        dm_id: dm._id,
        platform_account_id: dm.platform_account_id,
        created_at: new Date(),
      });
      if (batch.length >= CHUNK) await flush();
    }
    await flush();
    await markers.updateOne(
      { _id: MARKER_ID },
      { $set: { done_at: new Date(), entries: written } },
      { upsert: true },
    );
    this.complete = true;
    this.logger.log({ entries: written, ms: Date.now() - started }, 'ledger backfill complete');
  }
}
