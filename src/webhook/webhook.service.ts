import { WritePriority } from '../database/write-priority';
import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectModel } from '@nestjs/mongoose';
import { randomUUID } from 'node:crypto';
import { Model, Types } from 'mongoose';
import { AccountsService } from '../accounts/accounts.service';
import type { AuthUser } from '../auth/auth-user';
import {
  DeliveryStatus,
  PENDING_DELIVERY,
  WebhookDelivery,
} from './schemas/webhook-delivery.schema';
import { webhookTuning, WebhookTuning } from './webhook-tuning';

interface Waiter {
  doc: WebhookDelivery & { _id: Types.ObjectId };
  /** Its place in the order of arrival (see written). */
  seq: number;
  /** Answers the request once: stored, failed, or past its deadline, whichever comes first. */
  settle: (error?: Error) => void;
}

/** Epoch: a pending delivery's lease has always "expired", so the claim filter stays one range. */
export const NO_LEASE = new Date(0);
/** Failed deliveries read to attribute them to accounts (they are rare and kept until purged). */
/** A body names at most this many accounts on the delivery document (Meta batches few). */
const MAX_ENTRY_IDS = 100;
/**
 * Longest a request waits for its delivery to be durable, counted from its arrival (Meta times
 * out at about 20 s). Per request, not per batch: a request queued behind a stalled batch would
 * otherwise wait out that batch's deadline and then its own.
 */
const PERSIST_TIMEOUT_MS = 5_000;

/**
 * Persist, then acknowledge. Deliveries arriving within a few ms share one insertMany
 * (group commit): each request is answered once its batch is durable, and a failed batch fails
 * all of its requests with 503 so Meta retries them.
 */
/**
 * Bounds of the in-memory hand-over (deliveries and the bytes of their bodies): past them the
 * worker reads deliveries back from the queue by `_id`, and memory stays flat under a flood of
 * large bodies.
 */
const MAX_HANDED_OVER = 10_000;
const MAX_HANDED_OVER_BYTES = 16 * 1024 * 1024;

@Injectable()
export class WebhookService {
  private readonly logger = new Logger(WebhookService.name);
  private readonly tuning: WebhookTuning;
  /**
   * This instance's worker identity. Deliveries acknowledged here are leased to it from the
   * start, so its worker processes them without a claim write (and other instances leave them
   * alone until the lease passes, e.g. after a crash).
   */
  readonly instanceId = randomUUID();
  private queue: Waiter[] = [];
  /**
   * Deliveries just written and leased to this instance's worker, handed over in memory so that
   * processing them starts without reading them back (on a single-writer database every read
   * of a delivery competes with the next acknowledgements).
   */
  private readonly handOver = new Map<string, WebhookDelivery & { _id: Types.ObjectId }>();
  private handOverBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  /** Arrivals numbered in order; every one up to `settledSeq` is written or answered. */
  private lastSeq = 0;
  private settledSeq = 0;
  private writtenWaiters: { upTo: number; resolve: () => void }[] = [];

  constructor(
    @InjectModel(WebhookDelivery.name) private readonly deliveries: Model<WebhookDelivery>,
    @InjectModel(PENDING_DELIVERY) private readonly pending: Model<WebhookDelivery>,
    private readonly accounts: AccountsService,
    @Inject(ConfigService) config: ConfigService,
    priority: WritePriority,
  ) {
    this.tuning = webhookTuning(config);
    priority.registerUrgent(() => this.written());
  }

  /**
   * Resolves once every delivery that has arrived so far is written (or answered 503): what a
   * batch's bulk write waits for before each piece, so acknowledgements go first.
   */
  private written(): Promise<void> {
    const upTo = this.lastSeq;
    if (this.settledSeq >= upTo) return Promise.resolve();
    return new Promise((resolve) => this.writtenWaiters.push({ upTo, resolve }));
  }

  private settledUpTo(seq: number): void {
    this.settledSeq = Math.max(this.settledSeq, seq);
    const due = this.writtenWaiters.filter((w) => w.upTo <= this.settledSeq);
    if (due.length === 0) return;
    this.writtenWaiters = this.writtenWaiters.filter((w) => w.upTo > this.settledSeq);
    for (const w of due) w.resolve();
  }

  /** Writes the delivery (status pending, or ignored) and resolves once it is durable. */
  async persist(
    rawBody: Buffer,
    status: Extract<DeliveryStatus, 'pending' | 'ignored'>,
    accountIgIds: string[] = [],
  ): Promise<string> {
    const now = new Date();
    const leased = status === 'pending' && this.tuning.workerEnabled;
    const doc = {
      _id: new Types.ObjectId(),
      raw_body: rawBody.toString('utf8'),
      received_at: now,
      status,
      attempts: 0,
      lease_until: leased ? new Date(now.getTime() + this.tuning.leaseMs) : NO_LEASE,
      ...(leased ? { lease_owner: this.instanceId } : {}),
      ...(status === 'ignored' ? { processed_at: now } : {}),
      ...(accountIgIds.length > 0 ? { entry_ids: accountIgIds.slice(0, MAX_ENTRY_IDS) } : {}),
    } as WebhookDelivery & { _id: Types.ObjectId };
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const waiter: Waiter = {
        doc,
        seq: ++this.lastSeq,
        settle: (error?: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          if (error) reject(error);
          else resolve();
        },
      };
      const deadline = setTimeout(() => {
        // Still queued: never written, so the retry Meta makes is the only copy.
        const queued = this.queue.indexOf(waiter);
        if (queued >= 0) this.queue.splice(queued, 1);
        if (this.queue.length === 0 && !this.flushing) this.settledUpTo(this.lastSeq);
        waiter.settle(unavailable());
      }, PERSIST_TIMEOUT_MS);
      deadline.unref();
      this.queue.push(waiter);
      this.schedule();
    });
    const id = doc._id.toHexString();
    if (
      leased &&
      this.handOver.size < MAX_HANDED_OVER &&
      this.handOverBytes + doc.raw_body.length <= MAX_HANDED_OVER_BYTES
    ) {
      this.handOver.set(id, doc);
      this.handOverBytes += doc.raw_body.length;
    }
    return id;
  }

  /** The delivery as written by this instance's acknowledgement, once; undefined otherwise. */
  takeHandedOver(id: string): (WebhookDelivery & { _id: Types.ObjectId }) | undefined {
    const doc = this.handOver.get(id);
    if (!doc) return undefined;
    this.handOver.delete(id);
    this.handOverBytes -= doc.raw_body.length;
    return doc;
  }

  private schedule(): void {
    if (this.flushing) return; // the running flush takes the queue when it is done
    if (this.queue.length >= this.tuning.groupCommitMax) {
      this.flushNow();
      return;
    }
    this.timer ??= setTimeout(() => this.flushNow(), this.tuning.groupCommitWindowMs);
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.flushing || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.tuning.groupCommitMax);
    this.flushing = true;
    // Each request is answered 503 at its own deadline (persist). The batch deadline frees the
    // pipeline for the next batch while this insert hangs. Should a timed-out insert land after
    // all, Meta's retry is a second delivery document, and processing it again changes nothing.
    let deadline: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      deadline = setTimeout(
        () => reject(new Error('delivery insert timed out')),
        PERSIST_TIMEOUT_MS,
      );
      deadline.unref();
    });
    // Work to do goes to the queue, ignored deliveries straight to the history.
    const queued = batch.filter((w) => w.doc.status === 'pending').map((w) => w.doc);
    const done = batch.filter((w) => w.doc.status !== 'pending').map((w) => w.doc);
    Promise.race([
      Promise.all([
        queued.length > 0 && this.pending.collection.insertMany(queued, { ordered: false }),
        done.length > 0 && this.deliveries.collection.insertMany(done, { ordered: false }),
      ]),
      stalled,
    ])
      .then(
        () => batch.forEach((w) => w.settle()),
        (error: unknown) => {
          this.logger.error(
            { err: errorName(error), count: batch.length },
            'webhook delivery batch not stored',
          );
          const failure = unavailable();
          batch.forEach((w) => w.settle(failure));
        },
      )
      .finally(() => {
        clearTimeout(deadline);
        this.settledUpTo(batch[batch.length - 1].seq);
        this.flushing = false;
        if (this.queue.length > 0) this.schedule();
      });
  }

  /**
   * Diagnostics: counts and ids only, never payloads, of the deliveries that named the caller's
   * accounts (a delivery for an unknown account belongs to nobody yet). An account another user
   * had before shows only what arrived after that user deleted it: deliveries carry the Instagram
   * id, which changes hands, not the igdm account.
   */
  async listByStatus(user: AuthUser, status: DeliveryStatus, limit: number) {
    const igIds = await this.accounts.listOwnedIgIds(user);
    const since = await this.accounts.handedOverAt(user.id, igIds);
    const filter = { $or: ownedDeliveries(igIds, since), status };
    const collection = status === 'pending' ? this.pending : this.deliveries;
    const [total, docs] =
      igIds.length === 0
        ? [0, []]
        : await Promise.all([
            collection.countDocuments(filter).exec(),
            collection
              .find(filter, { _id: 1, received_at: 1, attempts: 1, processed_at: 1 })
              .sort({ received_at: -1 })
              .limit(limit)
              .lean()
              .exec(),
          ]);
    return {
      success: true as const,
      status,
      total,
      data: docs.map((d) => ({
        id: String(d._id),
        received_at: d.received_at,
        attempts: d.attempts,
        ...(d.processed_at ? { processed_at: d.processed_at } : {}),
      })),
    };
  }

  /**
   * Per business account id: deliveries waiting for an account to be connected (`unroutable_ids`)
   * and deliveries that failed processing. A failed delivery records no account, so it is
   * attributed by the entry ids recorded at the ack, and only from when the owner asking got
   * the id (see listByStatus).
   */
  async countsForAccounts(
    targets: { igId: string; userId: string }[],
  ): Promise<Record<string, { unroutable: number; failed: number }>> {
    const igIds = [...new Set(targets.map((t) => t.igId))];
    const counts = new Map(igIds.map((id) => [id, { unroutable: 0, failed: 0 }]));
    if (igIds.length === 0) return {};
    const since = new Map<string, Date>();
    for (const userId of new Set(targets.map((t) => t.userId))) {
      const mine = targets.filter((t) => t.userId === userId).map((t) => t.igId);
      for (const [id, at] of await this.accounts.handedOverAt(userId, mine)) since.set(id, at);
    }
    const [unroutable, failed] = await Promise.all([
      this.deliveries
        .find({ unroutable_ids: { $in: igIds } }, { _id: 0, unroutable_ids: 1 })
        .lean()
        .exec(),
      this.deliveries
        .find(
          { $or: ownedDeliveries(igIds, since), status: 'failed' },
          { _id: 0, entry_ids: 1, received_at: 1 },
        )
        .lean()
        .exec(),
    ]);
    for (const d of unroutable)
      for (const id of d.unroutable_ids ?? []) {
        const c = counts.get(id);
        if (c) c.unroutable += 1;
      }
    for (const d of failed)
      for (const id of d.entry_ids ?? []) {
        const c = counts.get(id);
        // A batch naming two accounts matches through either; each counts only in its own window.
        const from = since.get(id);
        if (c && (!from || d.received_at > from)) c.failed += 1;
      }
    return Object.fromEntries(counts);
  }
}

/** Deliveries naming `igIds`, each id's only from when it last changed hands (`since`). */
function ownedDeliveries(igIds: string[], since: Map<string, Date>) {
  const always = igIds.filter((id) => !since.has(id));
  return [
    ...(always.length > 0 ? [{ entry_ids: { $in: always } }] : []),
    ...[...since].map(([id, at]) => ({ entry_ids: id, received_at: { $gt: at } })),
  ];
}

function unavailable(): ServiceUnavailableException {
  return new ServiceUnavailableException('Delivery not stored, retry later');
}

export function errorName(error: unknown): string {
  if (error instanceof Error)
    return `${error.name}${'code' in error ? ` (${String((error as { code?: unknown }).code)})` : ''}`;
  return 'unknown';
}
