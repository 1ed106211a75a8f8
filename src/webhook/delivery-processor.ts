import { Logger } from '@nestjs/common';
import { Model, Types } from 'mongoose';
import { insertEachInChunks } from '../common/database/duplicate-key';
import { AccountGoneError, AccountsService } from '../accounts/accounts.service';
import { WritePriority } from '../database/write-priority';
import type { RoutedAccount } from '../accounts/accounts.types';
import { DmsIngestService } from '../dms/ingest/ingest.service';
import type { ApplyResult, MessageEvent, ParsedEvent } from '../dms/events/ingest-event.types';
import { parseDelivery } from './event-parser';
import { WebhookDelivery } from './schemas/webhook-delivery.schema';
import { errorName, WebhookService } from './webhook.service';
import type { WebhookTuning } from './webhook-tuning';

type Delivery = WebhookDelivery & { _id: Types.ObjectId };

/** A queued delivery as the history keeps it: without its lease. */
function historyOf(doc: Delivery): Delivery {
  const { lease_until: _until, lease_owner: _owner, last_error: _error, ...rest } = doc;
  return rest;
}

/** A delivery this instance holds the lease of, with the attempt it is on. */
interface Claimed {
  doc: Delivery;
  attempts: number;
  at: Date;
}

/** What processing one delivery found, written on it and followed up after. */
export class DeliveryOutcome {
  readonly counts: Record<string, number> = {};
  readonly unroutableIds = new Set<string>();
  readonly routed = new Map<string, RoutedAccount>();
  readonly enrich: [RoutedAccount, string][] = [];
  readonly refetch: [RoutedAccount, string][] = [];

  bump(key: string): void {
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  unroutable(entryId: string): void {
    this.unroutableIds.add(entryId);
    this.bump('unroutable');
  }
}

const ROUTE_CACHE_MS = 1_000;

/** What the worker does around a delivery: its retry timer and the work after it is processed. */
export interface DeliveryHooks {
  /** The failed delivery `id` is due again in `ms` (its lease ends then). */
  retryAt(id: string, ms: number): void;
  /** The delivery was processed at `now`: health and enrichment follow, never holding it back. */
  followUp(now: Date, outcome: DeliveryOutcome): void;
}

/**
 * Processing of deliveries: claims each with a lease (several instances share the work), routes
 * its events to their account, hands them to the ingest and records the outcome on the delivery,
 * or the failure and its retry time. The DeliveryWorker decides when; this decides what.
 */
export class DeliveryProcessor {
  private readonly logger = new Logger(DeliveryProcessor.name);
  /** Routing lookups shared by the deliveries of the next second (two scans each on FerretDB). */
  private readonly routes = new Map<string, { account: RoutedAccount | null; until: number }>();

  constructor(
    private readonly deliveries: Model<WebhookDelivery>,
    private readonly pending: Model<WebhookDelivery>,
    private readonly accounts: AccountsService,
    private readonly ingest: DmsIngestService,
    private readonly webhooks: WebhookService,
    private readonly tuning: WebhookTuning,
    private readonly hooks: DeliveryHooks,
    private readonly priority: WritePriority,
  ) {}

  private get owner(): string {
    return this.webhooks.instanceId;
  }

  /** Routing changed (an account deleted, connected or enabled): look every entry up again. */
  forgetRoutes(): void {
    this.routes.clear();
  }

  /** Claims and processes one delivery. Idempotent: processing it twice changes nothing. */
  async process(id: string): Promise<void> {
    const claimed = await this.claim(id);
    if (claimed) await this.processClaimed(claimed);
  }

  /**
   * Claims and processes the deliveries of one batch. Deliveries of customers' messages only
   * (nearly all of them under load) are stored together through the ingest's batch door; any
   * other delivery is processed one by one afterwards, its events in their order.
   */
  async processBatch(ids: string[]): Promise<void> {
    const claimed = (await Promise.all(ids.map((id) => this.claim(id)))).filter(
      (d): d is Claimed => d !== null,
    );
    const messages: { claimed: Claimed; events: MessageEvent[] }[] = [];
    const others: Claimed[] = [];
    for (const delivery of claimed) {
      let events: ParsedEvent[] | undefined;
      try {
        events = parseDelivery(JSON.parse(delivery.doc.raw_body));
      } catch {
        // processClaimed records the failure.
      }
      if (events && events.length > 0 && events.every((e) => e.kind === 'message'))
        messages.push({ claimed: delivery, events: events });
      else others.push(delivery);
    }
    if (messages.length > 0) await this.processMessages(messages);
    // The others one by one, in order; finished together (two bulk writes, not two each).
    const done: { claimed: Claimed; outcome: DeliveryOutcome }[] = [];
    for (const delivery of others) {
      const outcome = await this.applyDelivery(delivery);
      if (outcome) done.push({ claimed: delivery, outcome });
    }
    await this.finishAll(done);
  }

  /** Finishes processed deliveries together, then follows each up; a failed write retries them. */
  private async finishAll(done: { claimed: Claimed; outcome: DeliveryOutcome }[]): Promise<void> {
    if (done.length === 0) return;
    try {
      await this.finish(done.map(({ claimed, outcome }) => ({ ...claimed, outcome })));
    } catch (error) {
      // Applied already: the retry finds everything there and only finishes the deliveries.
      await Promise.all(done.map(({ claimed }) => this.failed(claimed, error)));
      return;
    }
    for (const { claimed, outcome } of done) this.hooks.followUp(claimed.at, outcome);
  }

  /**
   * The delivery, if this instance may process it now. One it acknowledged itself is handed over
   * in memory and processed without a write, however long the backlog kept it waiting (should
   * its lease pass meanwhile, another instance may process it too: twice changes nothing). Any
   * other is read from the queue and leased first.
   */
  private async claim(id: string): Promise<Claimed | null> {
    const now = new Date();
    const handed = this.webhooks.takeHandedOver(id);
    if (handed) return { doc: handed, attempts: handed.attempts + 1, at: now };
    const current = await this.pending.findById(id).lean().exec();
    if (!current) return null; // done meanwhile
    const leasedToUs =
      current.lease_owner === this.owner && !!current.lease_until && current.lease_until > now;
    if (leasedToUs) return { doc: current, attempts: current.attempts + 1, at: now };
    if (current.lease_until && current.lease_until > now) return null; // another instance's
    // Acked elsewhere, retried, or replayed: lease it (atomic on MongoDB; on FerretDB two
    // instances may both win, and processing twice changes nothing). The queue holds only the
    // backlog, so the lease condition costs little even where it is not indexed.
    const claimed = await this.pending
      .findOneAndUpdate(
        { _id: current._id, lease_until: { $lt: now } },
        {
          $set: {
            lease_until: new Date(now.getTime() + this.tuning.leaseMs),
            lease_owner: this.owner,
          },
          $inc: { attempts: 1 },
        },
        { new: true },
      )
      .lean()
      .exec();
    return claimed ? { doc: claimed, attempts: claimed.attempts, at: now } : null;
  }

  private async processClaimed(claimed: Claimed): Promise<void> {
    const outcome = await this.applyDelivery(claimed);
    if (outcome) await this.finishAll([{ claimed, outcome }]);
  }

  /** Applies the events of one delivery in order; undefined when it failed (retry recorded). */
  private async applyDelivery(claimed: Claimed): Promise<DeliveryOutcome | undefined> {
    const id = String(claimed.doc._id);
    const outcome = new DeliveryOutcome();
    try {
      const events = parseDelivery(JSON.parse(claimed.doc.raw_body));
      const cache = new Map<string, RoutedAccount | null>();
      for (const event of events) {
        outcome.bump(`kind:${event.kind}`);
        if (event.kind === 'ignored') {
          outcome.bump(event.reason);
          continue;
        }
        const key = event.routingIds.join(',');
        let account = cache.get(key);
        if (account === undefined) {
          account = await this.route(event.routingIds);
          cache.set(key, account);
        }
        if (!account) {
          outcome.unroutable(event.entryId);
          continue;
        }
        let result;
        try {
          result = await this.ingest.applyEvent(event, account);
        } catch (error) {
          if (!(error instanceof AccountGoneError)) throw error;
          // Deleted since it was routed: kept like any delivery for an unknown account.
          this.routes.clear();
          cache.set(key, null);
          outcome.unroutable(event.entryId);
          continue;
        }
        this.applied(id, outcome, event, account, result);
      }
      return outcome;
    } catch (error) {
      await this.failed(claimed, error);
      return undefined;
    }
  }

  /** The message-only deliveries of a batch: routed, stored together, completed each. */
  private async processMessages(
    deliveries: { claimed: Claimed; events: MessageEvent[] }[],
  ): Promise<void> {
    const items: { event: MessageEvent; account: RoutedAccount; delivery: number }[] = [];
    const outcomes = deliveries.map(() => new DeliveryOutcome());
    for (const [index, { events }] of deliveries.entries()) {
      for (const event of events) {
        outcomes[index].bump(`kind:${event.kind}`);
        const account = await this.route(event.routingIds);
        if (account) items.push({ event, account, delivery: index });
        else outcomes[index].unroutable(event.entryId);
      }
    }
    let results: ApplyResult[];
    try {
      results = await this.ingest.applyMessages(items);
    } catch (error) {
      // Nothing is half-done for good: each delivery is retried, and storing is idempotent.
      await Promise.all(deliveries.map(({ claimed }) => this.failed(claimed, error)));
      return;
    }
    items.forEach(({ event, account, delivery }, k) => {
      const id = String(deliveries[delivery].claimed.doc._id);
      if (results[k].outcome === 'account_gone') {
        this.routes.clear();
        outcomes[delivery].unroutable(event.entryId);
      } else this.applied(id, outcomes[delivery], event, account, results[k]);
    });
    await this.finishAll(
      deliveries.map(({ claimed }, index) => ({ claimed, outcome: outcomes[index] })),
    );
  }

  private applied(
    deliveryId: string,
    outcome: DeliveryOutcome,
    event: ParsedEvent,
    account: RoutedAccount,
    result: ApplyResult,
  ): void {
    outcome.routed.set(account.accountId, account);
    outcome.bump(result.outcome);
    this.logger.debug(
      {
        deliveryId,
        accountId: account.accountId,
        mid: 'mid' in event ? event.mid : undefined,
        kind: event.kind,
        outcome: result.outcome,
      },
      'webhook event applied',
    );
    for (const customerId of result.enrich ?? []) outcome.enrich.push([account, customerId]);
    if (result.refetchMid) outcome.refetch.push([account, result.refetchMid]);
  }

  /**
   * Processed deliveries leave the queue for the history: one insert of their records, then one
   * delete from the queue (two bulk writes for a whole batch; see the delivery schema). A crash
   * between the two leaves them queued: processed again, they find their records there.
   */
  private async finish(done: { doc: Delivery; attempts: number; outcome: DeliveryOutcome }[]) {
    const now = new Date();
    await this.record(
      done.map(({ doc, attempts, outcome }) => {
        const unroutable = [...outcome.unroutableIds];
        if (unroutable.length > 0)
          this.logger.log(
            { deliveryId: String(doc._id), unroutable: unroutable.length },
            'delivery names unknown accounts',
          );
        return {
          ...historyOf(doc),
          status: 'processed' as const,
          attempts,
          processed_at: now,
          result: { ...outcome.counts, accounts: outcome.routed.size },
          ...(unroutable.length > 0 ? { unroutable_ids: unroutable } : {}),
        };
      }),
    );
    await this.dequeue(done.map(({ doc }) => doc._id));
  }

  /** Writes history records; one that is there already (a crash, a replay) is replaced. */
  private async record(records: Delivery[]): Promise<void> {
    const inserted = await insertEachInChunks(
      (chunk) => this.deliveries.collection.insertMany(chunk, { ordered: false }),
      records,
      () => this.priority.giveWay(),
    );
    for (const [i, done] of inserted.entries())
      if (!done) await this.deliveries.collection.replaceOne({ _id: records[i]._id }, records[i]);
  }

  private async dequeue(ids: Types.ObjectId[]): Promise<void> {
    await this.priority.giveWay();
    if (ids.length === 1) await this.pending.deleteOne({ _id: ids[0] }).exec();
    else await this.pending.deleteMany({ _id: { $in: ids } }).exec();
  }

  private async failed({ doc, attempts }: Claimed, error: unknown): Promise<void> {
    const _id = doc._id;
    const reason = errorName(error);
    const final = attempts >= this.tuning.maxAttempts;
    this.logger.warn(
      { deliveryId: String(_id), attempts, err: reason, final },
      'delivery processing failed',
    );
    const retryAt = new Date(Date.now() + this.tuning.retryBaseMs * 2 ** Math.max(0, attempts - 1));
    try {
      if (final) {
        await this.record([
          {
            ...historyOf(doc),
            status: 'failed',
            last_error: reason,
            processed_at: new Date(),
            attempts,
          },
        ]);
        await this.dequeue([_id]);
        return;
      }
      await this.pending
        .updateOne(
          { _id },
          {
            $set: { last_error: reason, lease_until: retryAt, attempts },
            $unset: { lease_owner: '' },
          },
        )
        .exec();
    } catch {
      // Still queued: the sweep takes it up again once its lease has passed.
    }
    // The retry is due at retryAt whatever the sweep's pace (the sweep remains the fallback).
    if (!final) this.hooks.retryAt(String(_id), retryAt.getTime() - Date.now() + 50);
  }

  /**
   * The account of an entry. Cached for a second: under load hundreds of deliveries name the same
   * account, and a settings change (disable) still takes effect within that second.
   */
  private async route(ids: string[]): Promise<RoutedAccount | null> {
    const now = Date.now();
    // Usually entry.id names the account; then the other ids (the customer's) do not matter.
    const byEntry = this.routes.get(ids[0]);
    if (byEntry?.account && byEntry.until > now) return byEntry.account;
    const key = ids.join(',');
    const hit = this.routes.get(key);
    if (hit && hit.until > now) return hit.account;
    const account = await this.accounts.resolveForWebhook(ids);
    if (this.routes.size > 10_000) this.routes.clear();
    const until = now + ROUTE_CACHE_MS;
    this.routes.set(account?.igId === ids[0] ? ids[0] : key, { account, until });
    return account;
  }
}
