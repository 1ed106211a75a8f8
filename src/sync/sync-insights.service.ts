import { Injectable, OnModuleInit } from '@nestjs/common';
import {
  AccountHealthRegistry,
  AccountInsightPart,
  InsightTarget,
} from '../accounts/account-health.registry';
import type { ReconcileRunDto, ReconcileStatusDto } from '../accounts/dto/account-health-parts.dto';
import { DmsService } from '../dms/dms.service';
import { WebhookService } from '../webhook/webhook.service';
import { HistoryImportService } from './history-import.service';
import { ReconcileService } from './reconcile.service';
import type { ReconcileHistory, ReconcileRun } from './schemas/account-sync-state.schema';

type Parts = Record<string, AccountInsightPart>;

/**
 * Registers what the higher modules know about an account with the accounts module's
 * {@link AccountHealthRegistry}: DM counts (dms), webhook deliveries (webhook), import and
 * reconciliation (sync), each through its module's exported service.
 */
@Injectable()
export class SyncInsights implements OnModuleInit {
  constructor(
    private readonly insights: AccountHealthRegistry,
    private readonly imports: HistoryImportService,
    private readonly reconcile: ReconcileService,
    private readonly dmsService: DmsService,
    private readonly webhook: WebhookService,
  ) {}

  onModuleInit(): void {
    this.insights.register('dms', (targets) => this.dmCounts(targets));
    this.insights.register('webhook', (targets) => this.deliveries(targets));
    this.insights.register('sync', (targets) => this.sync(targets));
  }

  async dmCounts(targets: InsightTarget[]): Promise<Parts> {
    const counts = await this.dmsService.countsByAccount(targets.map((t) => t.accountId));
    return Object.fromEntries(Object.entries(counts).map(([id, dm_counts]) => [id, { dm_counts }]));
  }

  async deliveries(targets: InsightTarget[]): Promise<Parts> {
    const counts = await this.webhook.countsForAccounts(targets);
    return Object.fromEntries(
      targets.map((t) => {
        const c = counts[t.igId] ?? { unroutable: 0, failed: 0 };
        const problems: string[] = [];
        if (c.unroutable > 0) problems.push('UNROUTABLE_DELIVERIES');
        if (c.failed > 0) problems.push('FAILED_DELIVERIES');
        return [t.accountId, { deliveries: c, problems }];
      }),
    );
  }

  async sync(targets: InsightTarget[]): Promise<Parts> {
    const ids = targets.map((t) => t.accountId);
    const [imports, histories] = await Promise.all([
      this.imports.statusesOf(ids),
      this.reconcile.historiesOf(ids),
    ]);
    return Object.fromEntries(
      ids.map((id) => {
        const importStatus = imports.get(id);
        const history = histories.get(id);
        const problems: string[] = [];
        if (importStatus?.state === 'failed') problems.push('IMPORT_FAILED');
        const last = history?.last_run;
        if (last?.status === 'failed') problems.push('RECONCILE_FAILED');
        if (last && last.stored > 0) problems.push('MISSED_WEBHOOKS_BACKFILLED');
        if (last?.subscription_restored) problems.push('SUBSCRIPTION_DRIFT_RESTORED');
        const part: AccountInsightPart = {
          reconciliation: toReconcileDto(history),
          problems,
        };
        if (importStatus) part.import = importStatus;
        return [id, part];
      }),
    );
  }
}

function toRunDto(run: ReconcileRun): ReconcileRunDto {
  return {
    started_at: run.started_at,
    finished_at: run.finished_at,
    status: run.status,
    threads_checked: run.threads_checked,
    messages_checked: run.messages_checked,
    stored: run.stored,
    already_known: run.already_known,
    too_recent: run.too_recent,
    threads_truncated: run.threads_truncated,
    subscription_restored: run.subscription_restored,
    subscription_missing: run.subscription_missing,
    error_code: run.error_code,
  };
}

function toReconcileDto(history: ReconcileHistory | undefined): ReconcileStatusDto {
  return {
    last_run: history?.last_run ? toRunDto(history.last_run) : null,
    total_stored: history?.total_stored ?? 0,
    recent_runs: (history?.recent_runs ?? []).map(toRunDto),
  };
}
