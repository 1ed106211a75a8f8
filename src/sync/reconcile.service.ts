import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Model } from 'mongoose';
import { AccountHealthRegistry, type SyncTarget } from '../accounts/account-health.registry';
import { AccountsService } from '../accounts/accounts.service';
import { WEBHOOK_FIELDS } from '../accounts/accounts.types';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import type { GraphAccount } from '../instagram-graph/instagram-graph.types';
import { ConversationPacer } from './conversation-pacer';
import { graphTimeMs } from './graph-message.mapping';
import { errorCode, HistoryImportService, importKey } from './history-import.service';
import {
  AccountSyncState,
  ReconcileHistory,
  ReconcileRun,
} from './schemas/account-sync-state.schema';
import { SyncLeases } from './sync-leases.service';
import { SYNC_SETTINGS, SyncSettings } from './sync-settings';
import { ThreadSync } from './thread-sync.service';

export const RECONCILE_JOB = 'instagram-reconcile';
const CONVERSATION_PAGE = 25;
/** A first run (or one after a long failure) looks this far back. */
const FIRST_LOOKBACK_MS = 24 * 3_600_000;
/** Extra overlap with the previous run, for clock skew and Meta's second-precision times. */
const OVERLAP_MS = 5 * 60_000;
const RECENT_RUNS = 10;
/** Accounts reconciled at once by one instance (each is paced by its own Meta limit). */
const CONCURRENCY = 4;
/** Delay of the first run after start-up. */
const FIRST_TICK_MS = 30_000;

/** Thrown inside a run when the instance stops: the run is abandoned, not recorded. */
class ShuttingDown extends Error {}

export const reconcileKey = (accountId: string) => `${accountId}:reconcile`;

export interface ReconcileTick {
  accounts: number;
  /** Accounts this instance reconciled in this window. */
  reconciled: number;
  /** Accounts another instance (or an earlier tick) had claimed for this window. */
  claimedElsewhere: number;
  /** Accounts left out: disabled, importing, or not reconcilable. */
  skipped: number;
  stored: number;
  failed: number;
}

/**
 * Reconciliation: per account and per interval window (one instance claims each window with an
 * insert-once lease), compares the conversations Meta updated since the last successful run with
 * what igdm stored, stores what the webhook never delivered (source `reconcile`), and checks the
 * webhook subscription, re-subscribing when Meta's fields drifted from the wanted ones.
 */
@Injectable()
export class ReconcileService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ReconcileService.name);
  private ticking: Promise<void> | null = null;
  private stopping = false;

  constructor(
    @InjectModel(AccountSyncState.name) private readonly states: Model<AccountSyncState>,
    private readonly leases: SyncLeases,
    private readonly threads: ThreadSync,
    private readonly imports: HistoryImportService,
    private readonly accounts: AccountsService,
    private readonly insights: AccountHealthRegistry,
    private readonly graph: InstagramGraphService,
    private readonly pacer: ConversationPacer,
    private readonly scheduler: SchedulerRegistry,
    @Inject(SYNC_SETTINGS) private readonly settings: SyncSettings,
  ) {}

  onModuleInit(): void {
    if (!this.settings.reconcileEnabled) return;
    const interval = this.settings.reconcileIntervalMs;
    const timer = setInterval(() => void this.tick(), interval);
    timer.unref();
    this.scheduler.addInterval(RECONCILE_JOB, timer);
    // A restarted instance need not wait a whole interval; the window claims prevent repeats.
    const first = setTimeout(() => void this.tick(), Math.min(FIRST_TICK_MS, interval));
    first.unref();
    this.scheduler.addTimeout(`${RECONCILE_JOB}-first`, first);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.ticking;
  }

  /** One scheduled run; a tick still running when the next fires makes that one a no-op. */
  tick(): Promise<void> {
    if (this.ticking || this.stopping) return this.ticking ?? Promise.resolve();
    this.ticking = this.runTick().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    try {
      const run = await this.runDue();
      if (run.reconciled || run.failed) this.logger.log(run, 'reconciliation run');
      await this.imports.resumeDue();
    } catch (error) {
      this.logger.error({ err: errorCode(error) }, 'reconciliation run failed');
    }
  }

  /** Reconciles every account whose current window no instance has claimed yet. */
  async runDue(now = new Date()): Promise<ReconcileTick> {
    const interval = this.settings.reconcileIntervalMs;
    const windowStart = Math.floor(now.getTime() / interval) * interval;
    const targets = await this.insights.listSyncTargets();
    const tick: ReconcileTick = {
      accounts: targets.length,
      reconciled: 0,
      claimedElsewhere: 0,
      skipped: 0,
      stored: 0,
      failed: 0,
    };
    const queue = [...targets];
    const worker = async () => {
      for (let target = queue.shift(); target; target = queue.shift()) {
        if (this.stopping) return;
        const claimed = await this.leases.claimOnce(
          `${target.accountId}:reconcile:${windowStart}`,
          new Date(windowStart + 2 * interval),
        );
        if (!claimed) {
          tick.claimedElsewhere += 1;
          continue;
        }
        let run: ReconcileRun | null;
        try {
          run = await this.reconcileAccount(target);
        } catch (error) {
          // Its own database trouble: the other accounts still get their turn.
          this.logger.warn(
            { accountId: target.accountId, err: errorCode(error) },
            'account reconciliation not recorded',
          );
          tick.failed += 1;
          continue;
        }
        if (!run) tick.skipped += 1;
        else if (run.status === 'failed') tick.failed += 1;
        else tick.reconciled += 1;
        tick.stored += run?.stored ?? 0;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await this.leases.purge(new Date(now.getTime() - interval));
    return tick;
  }

  /**
   * One account, now. Null when it is left out: ingest off for it, or its import is running
   * (the import reads the same conversations).
   */
  async reconcileAccount(target: SyncTarget): Promise<ReconcileRun | null> {
    const { accountId } = target;
    if (await this.leases.isHeld(importKey(accountId))) return null;
    const account = await this.threads.routed(accountId, target.igId);
    if (!account?.ingestEnabled) return null;

    const started = new Date();
    const history = await this.history(target);
    const run: ReconcileRun = {
      started_at: started,
      finished_at: null,
      status: 'ok',
      threads_checked: 0,
      messages_checked: 0,
      stored: 0,
      already_known: 0,
      too_recent: 0,
      threads_truncated: 0,
      subscription_restored: false,
      subscription_missing: [],
      error_code: null,
    };
    let graphAccount: GraphAccount | null = null;
    try {
      graphAccount = await this.accounts.getGraphAccount(accountId);
      await this.checkSubscription(target, graphAccount, history, run);
      const since = history.last_success_started_at
        ? new Date(history.last_success_started_at).getTime() -
          this.settings.reconcileGraceMs -
          OVERLAP_MS
        : started.getTime() - FIRST_LOOKBACK_MS;
      let after: string | undefined;
      pages: for (;;) {
        await this.pacer.turn(graphAccount.igId);
        const page = await this.graph.listConversations(graphAccount, {
          after,
          limit: CONVERSATION_PAGE,
        });
        for (const conversation of page.data) {
          // Newest activity first: the rest of the list is older than the last run.
          const updated = graphTimeMs(conversation.updated_time);
          if (updated !== null && updated < since) break pages;
          if (this.stopping) throw new ShuttingDown();
          const result = await this.threads.syncThread(account, graphAccount, conversation.id, {
            source: 'reconcile',
            graceMs: this.settings.reconcileGraceMs,
            now: Date.now(),
          });
          run.threads_checked += 1;
          run.messages_checked += result.seen;
          run.stored += result.stored;
          run.already_known += result.known;
          run.too_recent += result.tooRecent;
          // Every message Meta details was missing: the gap may go further back than Meta shows.
          if (result.truncated && result.known === 0 && result.stored > 0)
            run.threads_truncated += 1;
        }
        if (!page.nextCursor) break;
        after = page.nextCursor;
      }
      history.last_success_started_at = started;
    } catch (error) {
      if (error instanceof ShuttingDown) return null;
      run.status = 'failed';
      run.error_code = errorCode(error);
    }
    run.finished_at = new Date();
    history.last_run = run;
    history.recent_runs = [run, ...history.recent_runs].slice(0, RECENT_RUNS);
    history.total_stored += run.stored;
    history.updated_at = run.finished_at;
    await this.states.collection.replaceOne({ _id: history._id as never }, history, {
      upsert: true,
    });
    if (graphAccount) await this.insights.recordGraphSuccess(accountId, graphAccount.igId);
    const log = {
      accountId,
      status: run.status,
      code: run.error_code,
      threads: run.threads_checked,
      checked: run.messages_checked,
      stored: run.stored,
      known: run.already_known,
      tooRecent: run.too_recent,
      subscriptionRestored: run.subscription_restored,
    };
    if (run.status === 'failed') this.logger.warn(log, 'account reconciliation failed');
    else if (run.stored > 0 || run.subscription_restored)
      this.logger.warn(log, 'account reconciled: the webhook had missed something');
    else this.logger.debug(log, 'account reconciled');
    return run;
  }

  async historiesOf(accountIds: string[]): Promise<Map<string, ReconcileHistory>> {
    const docs = (await this.states.collection
      .find({ _id: { $in: accountIds.map(reconcileKey) as never[] } })
      .toArray()) as unknown as ReconcileHistory[];
    return new Map(docs.map((d) => [d.account_id, d]));
  }

  /**
   * Reads the subscription as Meta reports it and records it; re-subscribes when wanted fields are
   * missing, unless the last re-subscription already ended with exactly these fields (Meta drops
   * fields the app itself lacks, so re-subscribing again would change nothing).
   */
  private async checkSubscription(
    target: SyncTarget,
    graphAccount: GraphAccount,
    history: ReconcileHistory,
    run: ReconcileRun,
  ): Promise<void> {
    let fields: string[];
    try {
      fields = this.insights.ourSubscribedFields(await this.graph.getSubscribedApps(graphAccount));
    } catch (error) {
      // Not fatal: the conversations are still compared (a token problem fails those too).
      this.logger.warn(
        { accountId: target.accountId, code: errorCode(error) },
        'subscription check failed',
      );
      return;
    }
    await this.insights.recordSubscription(target.accountId, fields, new Date());
    const missing = WEBHOOK_FIELDS.filter((f) => !fields.includes(f));
    run.subscription_missing = missing;
    if (missing.length === 0) return;
    if (history.fields_after_restore && sameSet(history.fields_after_restore, fields)) return;
    try {
      const after = await this.accounts.resubscribe({ id: target.userId }, target.accountId);
      history.fields_after_restore = after.subscribed_fields;
      run.subscription_restored = WEBHOOK_FIELDS.every((f) => after.subscribed_fields.includes(f));
      this.logger.warn(
        { accountId: target.accountId, missing, restored: run.subscription_restored },
        'webhook subscription had drifted: re-subscribed',
      );
    } catch (error) {
      this.logger.warn(
        { accountId: target.accountId, code: errorCode(error) },
        're-subscription failed',
      );
    }
  }

  private async history(target: SyncTarget): Promise<ReconcileHistory> {
    const found = (await this.states.collection.findOne({
      _id: reconcileKey(target.accountId) as never,
    })) as unknown as ReconcileHistory | null;
    return (
      found ?? {
        _id: reconcileKey(target.accountId),
        kind: 'reconcile',
        account_id: target.accountId,
        user_id: target.userId,
        last_run: null,
        recent_runs: [],
        total_stored: 0,
        last_success_started_at: null,
        fields_after_restore: null,
        updated_at: new Date(),
      }
    );
  }
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
