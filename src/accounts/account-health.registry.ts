import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import type { AuthUser } from '../auth/auth-user';
import type { AppConfig } from '../config/app-config';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { AccountActivityService, latest } from './account-activity.service';
import { AccountWriteLock } from './account-write-lock';
import { AccountsService } from './accounts.service';
import { WEBHOOK_FIELDS } from './accounts.types';
import type {
  DeliveryHealthDto,
  DmCountsDto,
  ImportStatusDto,
  ReconcileStatusDto,
} from './dto/account-health-parts.dto';
import type {
  AccountDetailDto,
  AccountHealthDto,
  HealthSummaryDto,
  SubscriptionHealthDto,
  TokenHealthDto,
} from './dto/account-health.dto';
import type { AccountResponseDto } from './dto/account-response.dto';
import { Account, AccountStatus } from './schemas/account.schema';
import { RefreshLease } from './schemas/refresh-lease.schema';

const DAY_MS = 24 * 3_600_000;
const TARGET_PAGE = 500;

/** The account a contributor reports on. */
export interface InsightTarget {
  accountId: string;
  userId: string;
  igId: string;
}

/** What one module knows about an account; every part is optional. */
export interface AccountInsightPart {
  dm_counts?: DmCountsDto;
  deliveries?: DeliveryHealthDto;
  import?: ImportStatusDto;
  reconciliation?: ReconcileStatusDto;
  problems?: string[];
}

export type InsightContributor = (
  targets: InsightTarget[],
) => Promise<Record<string, AccountInsightPart>>;

/** An active account the scheduled jobs of higher modules work on. */
export interface SyncTarget extends InsightTarget {
  status: 'active' | 'needs_reauth' | 'disconnected';
}

type AccountDoc = Account & { _id: Types.ObjectId };

/**
 * Account details other modules know (DM counts, webhook deliveries, import and reconciliation).
 * The accounts module cannot import them (dependencies point the other way), so they register a
 * contributor here on init and the account routes merge what the contributors answer. A failing
 * contributor leaves its part out instead of failing the account route.
 */
@Injectable()
export class AccountHealthRegistry {
  private readonly logger = new Logger(AccountHealthRegistry.name);
  private readonly contributors = new Map<string, InsightContributor>();
  private readonly marginMs: number;
  private readonly clientId: string;

  constructor(
    @InjectModel(Account.name) private readonly accountModel: Model<Account>,
    @InjectModel(RefreshLease.name) private readonly refreshLeases: Model<RefreshLease>,
    private readonly accounts: AccountsService,
    private readonly activity: AccountActivityService,
    private readonly graph: InstagramGraphService,
    private readonly writeLock: AccountWriteLock,
    @Inject(ConfigService) config: AppConfig,
  ) {
    this.marginMs = config.get('TOKEN_REFRESH_MARGIN_DAYS', { infer: true }) * DAY_MS;
    this.clientId = config.get('INSTAGRAM_CLIENT_ID', { infer: true });
  }

  /** Registers (or replaces) the contributor named `name`. */
  register(name: string, contributor: InsightContributor): void {
    this.contributors.set(name, contributor);
  }

  /** GET /accounts/:id: the account, its DM counts and its health. 404 when not the caller's. */
  async detail(user: AuthUser, accountId: string): Promise<AccountDetailDto> {
    const account = await this.accounts.get(user, accountId);
    const [health] = await this.healthOf(user, [account]);
    return { ...account, dm_counts: health.part.dm_counts ?? null, health: health.dto };
  }

  /** GET /accounts/health: every account of the caller. */
  async summary(user: AuthUser): Promise<HealthSummaryDto> {
    const accounts = await this.accounts.list(user);
    const health = await this.healthOf(user, accounts);
    const withProblems = health.filter((h) => !h.dto.ok).length;
    return {
      ok: withProblems === 0,
      accounts_total: health.length,
      accounts_with_problems: withProblems,
      accounts: health.map((h) => h.dto),
    };
  }

  // ---------------------------------------------------------------- for the sync jobs

  /**
   * Active, non-deleted accounts (the jobs check enablement per account themselves). Read in
   * `_id` order, page by page: every account is visited, so no other index would help.
   */
  async listSyncTargets(): Promise<SyncTarget[]> {
    const targets: SyncTarget[] = [];
    let after: Types.ObjectId | undefined;
    for (;;) {
      const docs = await this.accountModel
        .find(after ? { _id: { $gt: after } } : {}, {
          _id: 1,
          user_id: 1,
          instagram_data: 1,
          meta: 1,
          status: 1,
          is_deleted: 1,
        })
        .sort({ _id: 1 })
        .limit(TARGET_PAGE)
        .lean<AccountDoc[]>()
        .exec();
      for (const doc of docs) {
        const igId = doc.instagram_data?.ig_id ?? doc.instagram_data?.id ?? doc.meta?.id;
        const status = doc.status ?? AccountStatus.Active;
        if (doc.is_deleted || status !== AccountStatus.Active || !igId) continue;
        targets.push({ accountId: doc._id.toHexString(), userId: doc.user_id, igId, status });
      }
      if (docs.length < TARGET_PAGE) return targets;
      after = docs[docs.length - 1]._id;
    }
  }

  /** Persists this process's last successful Graph call for the account (throttled). */
  async recordGraphSuccess(accountId: string, igId: string): Promise<void> {
    const at = this.graph.lastSuccessAt(igId);
    if (at && (await this.accounts.isLive(accountId)))
      await this.activity.record(accountId, 'last_graph_success_at', at);
  }

  /** Records the webhook fields Meta reports for the account (GET subscribed_apps). */
  async recordSubscription(accountId: string, fields: string[], at: Date): Promise<void> {
    if (!Types.ObjectId.isValid(accountId)) return;
    await this.writeLock.run(accountId, () =>
      this.accountModel.collection.updateOne(
        { _id: new Types.ObjectId(accountId), is_deleted: { $ne: true } },
        {
          $set: { subscribed_fields: fields, subscription_checked_at: at },
          $unset: { subscription_error: '' },
        },
      ),
    );
  }

  /** Our app's entry of GET subscribed_apps (by client id, or the only one). */
  ourSubscribedFields(apps: { id: string; subscribed_fields: string[] }[]): string[] {
    const ours =
      apps.find((a) => a.id === this.clientId) ?? (apps.length === 1 ? apps[0] : undefined);
    return ours?.subscribed_fields ?? [];
  }

  // ---------------------------------------------------------------- helpers

  private async healthOf(
    user: AuthUser,
    accounts: AccountResponseDto[],
  ): Promise<{ part: AccountInsightPart; dto: AccountHealthDto }[]> {
    if (accounts.length === 0) return [];
    const ids = accounts.map((a) => new Types.ObjectId(a.id));
    const [docs, activity, leases] = await Promise.all([
      this.accountModel
        .find({ _id: { $in: ids } }, { _id: 1, last_graph_success_at: 1 })
        .lean<Pick<AccountDoc, '_id' | 'last_graph_success_at'>[]>()
        .exec(),
      this.activity.of(ids),
      this.refreshLeases
        .find({ _id: { $in: accounts.map((a) => a.id) } })
        .lean<RefreshLease[]>()
        .exec(),
    ]);
    // Documents written before account_activity existed still carry their own.
    const graphSuccess = new Map(
      docs.map((d) => {
        const id = d._id.toHexString();
        return [id, latest(activity.get(id)?.last_graph_success_at, d.last_graph_success_at)];
      }),
    );
    const leaseUntil = new Map(leases.map((l) => [l._id, new Date(l.until)]));
    const parts = await this.collect(
      accounts.map((a) => ({ accountId: a.id, userId: user.id, igId: a.ig_id })),
    );
    const now = Date.now();
    return accounts.map((account) => {
      const part = parts.get(account.id) ?? {};
      const stored = graphSuccess.get(account.id);
      const live = this.graph.lastSuccessAt(account.ig_id);
      const lastGraph = latest(stored, live);
      const token = this.tokenHealth(account, leaseUntil.get(account.id), now);
      const subscription = this.subscriptionHealth(account);
      const problems = [
        ...this.accountProblems(account, token, subscription),
        ...(part.problems ?? []),
      ];
      return {
        part,
        dto: {
          account_id: account.id,
          username: account.username,
          status: account.status,
          ok: problems.length === 0,
          problems,
          last_webhook_at: account.last_webhook_at,
          last_graph_success_at: lastGraph,
          token,
          subscription,
          deliveries: part.deliveries ?? null,
          import: part.import ?? null,
          reconciliation: part.reconciliation ?? null,
        },
      };
    });
  }

  private async collect(targets: InsightTarget[]): Promise<Map<string, AccountInsightPart>> {
    const merged = new Map<string, AccountInsightPart>();
    const answers = await Promise.all(
      [...this.contributors.entries()].map(async ([name, contributor]) => {
        try {
          return await contributor(targets);
        } catch (error) {
          this.logger.warn(
            { contributor: name, err: error instanceof Error ? error.name : 'unknown' },
            'account insight contributor failed',
          );
          return {};
        }
      }),
    );
    for (const answer of answers) {
      for (const [accountId, part] of Object.entries(answer)) {
        const current = merged.get(accountId) ?? {};
        merged.set(accountId, {
          ...current,
          ...part,
          problems: [...(current.problems ?? []), ...(part.problems ?? [])],
        });
      }
    }
    return merged;
  }

  private tokenHealth(
    account: AccountResponseDto,
    leaseUntil: Date | undefined,
    now: number,
  ): TokenHealthDto {
    const expiresAt = account.token_expires_at ? new Date(account.token_expires_at) : null;
    const base = { expires_at: expiresAt, refreshed_at: account.token_refreshed_at };
    if (account.status === 'needs_reauth') return { ...base, refresh_state: 'needs_reauth' };
    if (!expiresAt) return { ...base, refresh_state: 'unknown' };
    if (expiresAt.getTime() <= now) return { ...base, refresh_state: 'expired' };
    if (expiresAt.getTime() > now + this.marginMs) return { ...base, refresh_state: 'ok' };
    // Due: the refresh job keeps its lease for an hour after a failed attempt.
    return {
      ...base,
      refresh_state: leaseUntil && leaseUntil.getTime() > now ? 'retrying' : 'due',
    };
  }

  private subscriptionHealth(account: AccountResponseDto): SubscriptionHealthDto {
    const fields = account.subscribed_fields ?? [];
    return {
      fields,
      wanted: [...WEBHOOK_FIELDS],
      missing: WEBHOOK_FIELDS.filter((f) => !fields.includes(f)),
      checked_at: account.subscription_checked_at,
      error: account.subscription_error,
    };
  }

  private accountProblems(
    account: AccountResponseDto,
    token: TokenHealthDto,
    subscription: SubscriptionHealthDto,
  ): string[] {
    const problems: string[] = [];
    if (account.status === 'needs_reauth') problems.push('NEEDS_REAUTH');
    if (token.refresh_state === 'expired') problems.push('TOKEN_EXPIRED');
    if (token.refresh_state === 'retrying') problems.push('TOKEN_REFRESH_RETRYING');
    if (subscription.error) problems.push('SUBSCRIPTION_FAILED');
    else if (subscription.missing.length > 0) problems.push('SUBSCRIPTION_INCOMPLETE');
    return problems;
  }
}
