import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import { Connection, Model, Types } from 'mongoose';
import { customerOf, DmWriteLock } from './dm-write-lock';
import { InstagramDm } from './schemas/instagram-dm.schema';

const MARKER_COLLECTION = 'igdm_migrations';
const MARKER_ID = 'instagram_dms-customer-id-v1';
const PROGRESS_EVERY = 10_000;

type LegacyKeys = Pick<
  InstagramDm,
  'platform_account_id' | 'direction' | 'sender_id' | 'recipient_id'
> & { _id: Types.ObjectId };

/**
 * DMs the Python service wrote have no `customer_id`, so the one-conversation list
 * (`GET /instagram-dms/list?customer_id=`, served by an index on it) would miss them. This fills it
 * once, in the background at start-up, from the direction (the customer sent the inbound ones and
 * received the outbound ones). Idempotent; several instances may run it together.
 */
@Injectable()
export class LegacyCustomerIdService implements OnApplicationBootstrap {
  private readonly logger = new Logger(LegacyCustomerIdService.name);

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    @InjectConnection() private readonly connection: Connection,
    private readonly writeLock: DmWriteLock,
  ) {}

  onApplicationBootstrap(): void {
    this.backfill().catch((error: unknown) => {
      // Only the one-conversation list misses legacy DMs meanwhile; the next start-up retries.
      this.logger.error({ err: error }, 'customer_id backfill failed');
    });
  }

  /** Sets `customer_id` where it is missing; returns how many DMs got one. Safe to call again. */
  async backfill(opts: { force?: boolean } = {}): Promise<number> {
    const markers = this.connection.collection<{ _id: string; done_at: Date; filled: number }>(
      MARKER_COLLECTION,
    );
    if (!opts.force && (await markers.findOne({ _id: MARKER_ID }))) return 0;
    const started = Date.now();
    let filled = 0;
    const cursor = this.dms
      .find(
        { customer_id: { $exists: false } },
        { _id: 1, platform_account_id: 1, direction: 1, sender_id: 1, recipient_id: 1 },
      )
      .lean<LegacyKeys[]>()
      .cursor();
    for await (const dm of cursor) {
      const customerId = customerOf(dm);
      if (!customerId) continue;
      // Under the thread's lock, read and written by _id alone (FerretDB serves nothing else from
      // an index): an ingest merge into the same document must not be undone.
      const set = await this.writeLock.forDm(dm, async () => {
        const current = await this.dms.findById(dm._id, { customer_id: 1 }).lean().exec();
        if (!current || current.customer_id) return false;
        await this.dms.collection.updateOne({ _id: dm._id }, { $set: { customer_id: customerId } });
        return true;
      });
      if (set) filled += 1;
      if (filled % PROGRESS_EVERY === 0)
        this.logger.log({ filled, ms: Date.now() - started }, 'customer_id backfill: progress');
    }
    await markers.updateOne(
      { _id: MARKER_ID },
      { $set: { done_at: new Date(), filled } },
      { upsert: true },
    );
    if (filled > 0)
      this.logger.log({ filled, ms: Date.now() - started }, 'customer_id backfill complete');
    return filled;
  }
}
