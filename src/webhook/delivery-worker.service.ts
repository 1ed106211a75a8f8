import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { OnEvent } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { duplicateKeyIndexes } from '../common/database/duplicate-key';
import { AccountsService } from '../accounts/accounts.service';
import {
  ACCOUNT_CONNECTED,
  ACCOUNT_DELETED,
  ACCOUNT_ENABLED,
  AccountConnectedEvent,
  AccountEnabledEvent,
  RoutedAccount,
} from '../accounts/accounts.types';
import { WritePriority } from '../database/write-priority';
import { ConversationsService } from '../dms/conversations.service';
import { DmsIngestService } from '../dms/ingest/ingest.service';
import { PENDING_DELIVERY, WebhookDelivery } from './schemas/webhook-delivery.schema';
import { errorName, NO_LEASE, WebhookService } from './webhook.service';
import { webhookTuning, WebhookTuning } from './webhook-tuning';
import { DeliveryOutcome, DeliveryProcessor } from './delivery-processor';

type Task = () => Promise<void>;

/**
 * A failed read of an edited text is tried again after these delays (profiles have their own
 * durable sweep): a Graph hiccup must not leave the old text on screen for good.
 */
const EDIT_REFETCH_RETRIES_MS = [2_000, 15_000, 120_000];
const SEEN_WRITE_INTERVAL_MS = 60_000;
/** Profile reads retried in memory after a failure (see profileRetriesMs). */
const PROFILE_RETRIES = 8;
/** Deliveries moved between the history and the queue per write. */
const MOVE_PAGE = 500;
/** At most this share of the time goes to sweeping (see nextSweepDelay). */
const SWEEP_SHARE = 0.1;

/**
 * The wait before the next sweep. A sweep is a scan on FerretDB (no secondary indexes): with a
 * week of deliveries retained it takes seconds, and a fixed interval would let it eat the
 * database. So a slow sweep spaces the next one out, keeping sweeping under `SWEEP_SHARE` of
 * the time; on MongoDB sweeps take milliseconds and the configured interval holds.
 */
export function nextSweepDelay(intervalMs: number, lastSweepMs: number): number {
  return Math.max(intervalMs, Math.round(lastSweepMs * (1 / SWEEP_SHARE - 1)));
}

/**
 * Processes acknowledged deliveries: woken with the new ids right after each ack, plus a start-up
 * sweep and a periodic sweep for anything left pending (crash, other instance, retry). Each
 * delivery is claimed with a lease, so several instances can share the work; a delivery that
 * keeps failing is marked failed after `maxAttempts`. Enrichment (profiles, names, edited text)
 * runs after the delivery is processed and never holds it back.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryWorker.name);
  private readonly tuning: WebhookTuning;
  private readonly processor: DeliveryProcessor;
  /** When each account's last-webhook time was last written (health; at most once a minute). */
  private readonly seenWritten = new Map<string, number>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private running = 0;
  private readonly side: Task[] = [];
  private readonly sideKeys = new Set<string>();
  private sideRunning = 0;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    @InjectModel(WebhookDelivery.name) private readonly deliveries: Model<WebhookDelivery>,
    @InjectModel(PENDING_DELIVERY) private readonly pending: Model<WebhookDelivery>,
    private readonly accounts: AccountsService,
    private readonly ingest: DmsIngestService,
    private readonly conversations: ConversationsService,
    private readonly webhooks: WebhookService,
    priority: WritePriority,
    @Inject(ConfigService) config: ConfigService,
  ) {
    this.tuning = webhookTuning(config);
    this.processor = new DeliveryProcessor(
      deliveries,
      pending,
      accounts,
      ingest,
      webhooks,
      this.tuning,
      {
        retryAt: (id, ms) => this.later(ms, () => this.wake([id])),
        followUp: (now, outcome) => this.followUp(now, outcome),
      },
      priority,
    );
  }

  onApplicationBootstrap(): void {
    if (!this.tuning.workerEnabled) return;
    const purge = setInterval(() => void this.purge(), this.tuning.purgeIntervalMs);
    purge.unref();
    this.timers.push(purge);
    // First: whatever a previous process acked (after moving what an older version queued).
    setImmediate(
      () =>
        void this.requeueFromHistory()
          .then(() => this.sweepThenSchedule())
          .then(() => this.enrichLeftovers()),
    );
  }

  /**
   * Deliveries still pending in the history, where igdm kept its queue before it had one of its
   * own: moved to the queue once, at start-up (a scan, never on the hot path).
   */
  private async requeueFromHistory(): Promise<void> {
    try {
      const moved = await this.moveToQueue({ status: 'pending' }, (doc) => doc);
      if (moved > 0) this.logger.log({ moved }, 'pending deliveries moved to webhook_pending');
    } catch (error) {
      this.logger.warn({ err: errorName(error) }, 'moving pending deliveries failed');
    }
  }

  /**
   * Moves the history's deliveries matching `filter` to the queue, a page at a time: inserted
   * there first (an existing one is left as it is), then deleted here. A crash in between
   * leaves both; processing the queued copy replaces the record.
   */
  private async moveToQueue(
    filter: Record<string, unknown>,
    asQueued: (doc: WebhookDelivery & { _id: Types.ObjectId }) => WebhookDelivery & {
      _id: Types.ObjectId;
    },
  ): Promise<number> {
    let moved = 0;
    for (;;) {
      const page = await this.deliveries
        .find(filter)
        .limit(MOVE_PAGE)
        .lean<(WebhookDelivery & { _id: Types.ObjectId })[]>()
        .exec();
      if (page.length === 0) return moved;
      const queued = page.map(asQueued);
      await this.pending.collection.insertMany(queued, { ordered: false }).catch((error) => {
        if (!duplicateKeyIndexes(error, queued.length)) throw error;
      });
      await this.deliveries.deleteMany({ _id: { $in: page.map((d) => d._id) } }).exec();
      moved += page.length;
      this.wake(page.map((d) => String(d._id)));
    }
  }

  private async sweepThenSchedule(): Promise<void> {
    const started = Date.now();
    await this.sweep();
    if (this.stopped) return;
    const delay = nextSweepDelay(this.tuning.sweepIntervalMs, Date.now() - started);
    this.later(delay, () => void this.sweepThenSchedule());
  }

  /** A timer the shutdown clears, that never keeps the process alive. */
  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.queue.length = 0;
    this.queued.clear();
    this.side.length = 0;
    if (this.running + this.sideRunning > 0) {
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref()),
      ]);
    }
  }

  /** New deliveries to process now (called after the ack). */
  wake(ids: string[]): void {
    if (this.stopped || !this.tuning.workerEnabled) return;
    for (const id of ids) {
      if (this.queued.has(id)) continue;
      this.queued.add(id);
      this.queue.push(id);
    }
    this.pump();
  }

  /**
   * Takes what is queued in batches: under load one batch holds many deliveries, stored with a
   * few bulk writes; when idle a batch is the one delivery just acknowledged, processed at once.
   * Batches run one at a time by default, so the database's single writer serves the
   * acknowledgements' inserts between them.
   */
  private pump(): void {
    while (!this.stopped && this.running < this.tuning.workerConcurrency && this.queue.length > 0) {
      const ids = this.queue.splice(0, this.tuning.workerBatch);
      this.running += 1;
      void this.processBatch(ids)
        .catch((error: unknown) =>
          this.logger.error(
            { deliveries: ids.length, err: errorName(error) },
            'delivery batch crashed',
          ),
        )
        .finally(() => {
          for (const id of ids) this.queued.delete(id);
          this.running -= 1;
          this.pump();
          this.pumpSide();
          this.checkIdle();
        });
    }
  }

  private checkIdle(): void {
    if (this.running + this.sideRunning === 0 && this.queue.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * Queued deliveries whose lease has passed (a crash, a retry, another instance's). The queue
   * holds only the backlog, so this read stays small however long the history grows.
   */
  async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      const due = await this.pending
        .find({ lease_until: { $lt: new Date() } }, { _id: 1 })
        .limit(500)
        .lean()
        .exec();
      this.wake(due.map((d) => String(d._id)));
    } catch (error) {
      if (!this.stopped) this.logger.warn({ err: errorName(error) }, 'webhook sweep failed');
    }
  }

  /**
   * Profiles a stopped process left due (its retry timers died with it): read once at start-up.
   * From then on profiles are scheduled in memory, by the messages that need them and by each
   * failure's retry timer, so no periodic query scans the threads.
   */
  private async enrichLeftovers(): Promise<void> {
    try {
      for (const c of await this.conversations.dueForProfile(new Date(), 500)) {
        const account = await this.accounts.resolveForWebhook([c.ig_id ?? '']);
        if (account && account.accountId === c.platform_account_id)
          this.enrichLater(account, c.customer_id);
      }
    } catch (error) {
      if (!this.stopped) this.logger.warn({ err: errorName(error) }, 'profile leftovers not read');
    }
  }

  /** Retention: processed and ignored deliveries older than the retention period. */
  async purge(): Promise<number> {
    try {
      const before = new Date(Date.now() - this.tuning.retentionMs);
      const res = await this.deliveries
        .deleteMany({ status: { $in: ['processed', 'ignored'] }, processed_at: { $lt: before } })
        .exec();
      return res.deletedCount;
    } catch (error) {
      this.logger.warn({ err: errorName(error) }, 'webhook purge failed');
      return 0;
    }
  }

  /** A deleted account is routed nowhere from now on, not for another second from the cache. */
  @OnEvent(ACCOUNT_DELETED)
  onAccountDeleted(): void {
    this.processor.forgetRoutes();
  }

  /** An account was connected: replay deliveries that named it while it was unknown. */
  @OnEvent(ACCOUNT_CONNECTED, { async: true, suppressErrors: true })
  async onAccountConnected(event: AccountConnectedEvent): Promise<void> {
    this.processor.forgetRoutes();
    await this.resumeProfiles(event.accountId);
    const count = await this.moveToQueue({ unroutable_ids: event.igId }, (doc) => {
      const {
        processed_at: _at,
        result: _result,
        unroutable_ids: _unroutable,
        last_error: _error,
        ...delivery
      } = doc;
      return { ...delivery, status: 'pending', lease_until: NO_LEASE, attempts: 0 };
    });
    if (count > 0)
      this.logger.log({ accountId: event.accountId, count }, 'replaying unroutable deliveries');
  }

  /** A disabled account was turned on again: its parked profile reads are due. */
  @OnEvent(ACCOUNT_ENABLED, { async: true, suppressErrors: true })
  async onAccountEnabled(event: AccountEnabledEvent): Promise<void> {
    this.processor.forgetRoutes();
    await this.resumeProfiles(event.accountId);
  }

  /** Profiles parked while the account could not read them are read now. */
  private async resumeProfiles(accountId: string): Promise<void> {
    const threads = await this.conversations.resumeProfiles(accountId);
    if (threads.length === 0) return;
    this.logger.log({ accountId, resumed: threads.length }, 'resuming parked profile reads');
    this.processor.forgetRoutes();
    const account = await this.accounts.resolveForWebhook([threads[0].ig_id ?? '']);
    if (!account || account.accountId !== accountId) return;
    for (const t of threads) this.enrichLater(account, t.customer_id);
  }

  /** Claims and processes one delivery. Idempotent: processing it twice changes nothing. */
  process(id: string): Promise<void> {
    return this.processor.process(id);
  }

  /** Claims and processes the deliveries of one batch (see DeliveryProcessor.processBatch). */
  processBatch(ids: string[]): Promise<void> {
    return this.processor.processBatch(ids);
  }

  /** After a delivery is processed: activity for health, then enrichment, never holding it back. */
  private followUp(now: Date, outcome: DeliveryOutcome): void {
    for (const account of outcome.routed.values()) {
      const last = this.seenWritten.get(account.accountId) ?? 0;
      if (now.getTime() - last < SEEN_WRITE_INTERVAL_MS) continue;
      this.seenWritten.set(account.accountId, now.getTime());
      this.accounts
        .recordWebhookSeen(account.accountId, now)
        .catch((error: unknown) =>
          this.logger.warn(
            { accountId: account.accountId, err: errorName(error) },
            'recordWebhookSeen failed',
          ),
        );
    }
    for (const [account, customerId] of outcome.enrich) this.enrichLater(account, customerId);
    for (const [account, mid] of outcome.refetch) {
      this.sideTask(
        `edit:${mid}`,
        () => this.ingest.refetchEditedText(account, mid),
        EDIT_REFETCH_RETRIES_MS,
      );
    }
  }

  private enrichLater(account: RoutedAccount, customerId: string): void {
    this.sideTask(
      `profile:${account.accountId}:${customerId}`,
      () => this.ingest.enrichConversation(account, customerId),
      this.profileRetriesMs,
    );
  }

  /**
   * A failed profile read is tried again after these delays (doubling from
   * WEBHOOK_ENRICH_RETRY_MS, at most an hour apart); past them, the customer's next message
   * tries again. A process that stops forgets them: the next start reads what is due.
   */
  private get profileRetriesMs(): number[] {
    return Array.from({ length: PROFILE_RETRIES }, (_, i) =>
      Math.min(this.tuning.enrichRetryMs * 2 ** i, 3_600_000),
    );
  }

  /** Best-effort work after processing, retried after `retriesMs` when it fails. */
  private sideTask(key: string, task: Task, retriesMs: readonly number[] = []): void {
    if (this.stopped || this.sideKeys.has(key)) return;
    this.sideKeys.add(key);
    this.side.push(async () => {
      try {
        await task();
      } catch (error) {
        const [retryInMs, ...later] = retriesMs;
        this.logger.warn(
          { task: key.split(':')[0], err: errorName(error), retryInMs },
          'enrichment failed, will retry',
        );
        if (retryInMs !== undefined) this.later(retryInMs, () => this.sideTask(key, task, later));
      } finally {
        this.sideKeys.delete(key);
      }
    });
    this.pumpSide();
  }

  private pumpSide(): void {
    // Deliveries first: while a batch is stored or waits, one side task at a time (its writes
    // compete for the same database), two when idle. Not none: a thread's profile read early
    // names every later message as it is stored, where a profile read after the backlog would
    // have to name each of the backlog's messages afterwards (two requests per message).
    const busy = this.queue.length > 0 || this.running > 0;
    const room = busy ? 1 : 2;
    while (!this.stopped && this.sideRunning < room && this.side.length > 0) {
      const task = this.side.shift()!;
      this.sideRunning += 1;
      void task().finally(() => {
        this.sideRunning -= 1;
        this.pumpSide();
        this.checkIdle();
      });
    }
  }
}
