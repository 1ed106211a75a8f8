import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectModel } from '@nestjs/mongoose';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { FilterQuery, Model, Types } from 'mongoose';
import type { AuthUser } from '../auth/auth-user';
import { AppError, NotFoundError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { GraphAccount } from '../instagram-graph/instagram-graph.types';
import { AccountActivityService } from './account-activity.service';
import { AccountTokensService, reauthRequired } from './account-tokens.service';
import { AccountWriteLock } from './account-write-lock';
import { ConnectLockService } from './connect-lock.service';
import {
  ACCOUNT_CONNECTED,
  ACCOUNT_DELETED,
  AccountConnectedEvent,
  AccountDeletedEvent,
  RoutedAccount,
  SendableAccount,
  WEBHOOK_FIELDS,
} from './accounts.types';
import { AccountResponseDto } from './dto/account-response.dto';
import { igIdOf, statusOf, toResponse } from './account-response.mapping';
import { Account, AccountStatus } from './schemas/account.schema';
import { AccountConfig } from './schemas/user-settings.schema';
import { isConfigEnabled, UserSettingsService } from './user-settings.service';

type AccountDoc = Account & { _id: Types.ObjectId };
/** A filter that does not name the tenant does not compile. */
type Owned = FilterQuery<Account> & { user_id: string };

const MIN_TOKEN_AGE_MS = 24 * 3_600_000;
const LIVE_CACHE_MS = 1_000;

/** A write for an account deleted while the work was under way (see AccountsService.isLive). */
export class AccountGoneError extends AppError {
  constructor() {
    super(
      HttpStatus.CONFLICT,
      'ACCOUNT_DELETED',
      'The Instagram account was deleted while this ran; nothing was stored for it',
    );
  }
}

export interface SubscriptionResult {
  subscribed_fields: string[];
  subscription_error?: string;
}

/**
 * Connected Instagram accounts: routing of webhooks, the tokens the Graph API calls need, and the
 * dashboard's account routes. Every route method takes the caller first and answers 404 alike
 * for another user's account and a missing one. Settings routes, purge bookkeeping and the
 * reauth marking live beside it (account-settings, account-purge-state, account-reauth).
 */
@Injectable()
export class AccountsService {
  private readonly logger = new Logger(AccountsService.name);
  /** Accounts deleted by this process (until reconnected): never live, whatever a cache says. */
  private readonly deletedHere = new Set<string>();
  private readonly liveUntil = new Map<string, number>();

  constructor(
    @InjectModel(Account.name) private readonly accounts: Model<Account>,
    private readonly settings: UserSettingsService,
    private readonly tokens: AccountTokensService,
    private readonly activity: AccountActivityService,
    private readonly graph: InstagramGraphService,
    private readonly writeLock: AccountWriteLock,
    private readonly connectLock: ConnectLockService,
    private readonly events: EventEmitter2,
    @Inject(ConfigService) private readonly config: AppConfig,
  ) {}

  // ---------------------------------------------------------------- contract (docs/contracts.md)

  async resolveForWebhook(ids: string[]): Promise<RoutedAccount | null> {
    const wanted = [...new Set(ids.filter((id) => typeof id === 'string' && id.length > 0))];
    if (wanted.length === 0) return null;
    const found = await this.accounts
      .find({
        $or: [
          { 'instagram_data.ig_id': { $in: wanted } },
          { 'instagram_data.id': { $in: wanted } },
        ],
        is_deleted: { $ne: true },
      })
      .sort({ updated_at: -1 })
      .lean<AccountDoc[]>()
      .exec();
    for (const id of wanted) {
      const account =
        found.find((a) => a.instagram_data?.ig_id === id) ??
        found.find((a) => a.instagram_data?.id === id);
      if (account)
        return this.routed(
          account,
          await this.settings.configFor(account.user_id, account._id.toHexString()),
        );
    }
    return null;
  }

  async getGraphAccount(accountId: string): Promise<GraphAccount> {
    const account = await this.findLive({ _id: this.objectId(accountId) });
    if (!account) throw this.notFound();
    return this.graphAccountOf(account);
  }

  async getSendableAccount(user: AuthUser, accountId: string): Promise<SendableAccount> {
    const account = await this.findOwned(user, accountId);
    const routed = this.routed(account, await this.settings.configFor(user.id, accountId));
    if (!routed.ingestEnabled) {
      throw new AppError(
        HttpStatus.CONFLICT,
        'ACCOUNT_DISABLED',
        'This Instagram account is disabled in your settings; enable it to send',
      );
    }
    return { ...routed, graph: this.graphAccountOf(account) };
  }

  async listOwnedAccountIds(user: AuthUser): Promise<string[]> {
    const owned: Owned = { user_id: user.id, is_deleted: { $ne: true } };
    const docs = await this.accounts
      .find(owned, { _id: 1 })
      .lean<{ _id: Types.ObjectId }[]>()
      .exec();
    return docs.map((d) => d._id.toHexString());
  }

  /** Instagram ids (webhook `entry.id`) of the caller's accounts. */
  async listOwnedIgIds(user: AuthUser): Promise<string[]> {
    const owned: Owned = { user_id: user.id, is_deleted: { $ne: true } };
    const docs = await this.accounts.find(owned, { instagram_data: 1 }).lean<AccountDoc[]>().exec();
    return [
      ...new Set(docs.flatMap((d) => [d.instagram_data?.ig_id, d.instagram_data?.id])),
    ].filter((id): id is string => !!id);
  }

  /**
   * Per Instagram id: when a user other than `userId` last gave it up (deleted their account for
   * it). Webhook deliveries name only the Instagram id, so one received before that moment is the
   * previous owner's, not the caller's; ids no one else ever had are absent.
   */
  async handedOverAt(userId: string, igIds: string[]): Promise<Map<string, Date>> {
    const since = new Map<string, Date>();
    if (igIds.length === 0) return since;
    const others = await this.accounts
      .find(
        {
          $or: [
            { 'instagram_data.ig_id': { $in: igIds } },
            { 'instagram_data.id': { $in: igIds } },
          ],
          user_id: { $ne: userId },
          is_deleted: true,
        },
        { instagram_data: 1, deleted_at: 1, updated_at: 1 },
      )
      .lean<AccountDoc[]>()
      .exec();
    const wanted = new Set(igIds);
    for (const doc of others) {
      // Deletions by the Python service may lack deleted_at: its last write is when it stopped
      // being theirs. One with neither predates every delivery igdm recorded.
      const left = doc.deleted_at ?? doc.updated_at;
      if (!left) continue;
      for (const id of new Set([doc.instagram_data?.ig_id, doc.instagram_data?.id])) {
        if (!id || !wanted.has(id)) continue;
        const known = since.get(id);
        if (!known || known < left) since.set(id, left);
      }
    }
    return since;
  }

  async assertOwned(user: AuthUser, accountId: string): Promise<void> {
    await this.findOwned(user, accountId);
  }

  /**
   * Whether the account may still receive DMs: not deleted. Asked right before a DM is stored, so
   * an import, a reconciliation or a send whose Meta call was in flight when the user deleted the
   * account does not write into it after its purge. A live answer is trusted for a second; a
   * delete in this process counts at once.
   */
  async isLive(accountId: string): Promise<boolean> {
    if (this.deletedHere.has(accountId)) return false;
    if ((this.liveUntil.get(accountId) ?? 0) > Date.now()) return true;
    if (!Types.ObjectId.isValid(accountId)) return false;
    const doc = await this.accounts
      .findById(accountId, { is_deleted: 1 })
      .lean<{ is_deleted?: boolean }>()
      .exec();
    const live = !!doc && doc.is_deleted !== true && !this.deletedHere.has(accountId);
    if (live) {
      if (this.liveUntil.size > 10_000) this.liveUntil.clear();
      this.liveUntil.set(accountId, Date.now() + LIVE_CACHE_MS);
    }
    return live;
  }

  @OnEvent(ACCOUNT_CONNECTED)
  onConnected(event: AccountConnectedEvent): void {
    this.deletedHere.delete(event.accountId);
  }

  async recordWebhookSeen(accountId: string, at: Date): Promise<void> {
    // A purge deleted the account's activity row; work that outlived it must not write it back.
    if (!(await this.isLive(accountId))) return;
    await this.activity.record(accountId, 'last_webhook_at', at);
  }

  // ---------------------------------------------------------------- dashboard routes

  async list(user: AuthUser): Promise<AccountResponseDto[]> {
    const owned: Owned = { user_id: user.id, is_deleted: { $ne: true } };
    const [docs, configs] = await Promise.all([
      this.accounts.find(owned).sort({ created_at: -1 }).lean<AccountDoc[]>().exec(),
      this.settings.configsOf(user.id),
    ]);
    const activity = await this.activity.of(docs.map((doc) => doc._id));
    return docs.map((doc) => {
      const id = doc._id.toHexString();
      return toResponse(doc, configs.get(id), activity.get(id));
    });
  }

  async get(user: AuthUser, accountId: string): Promise<AccountResponseDto> {
    const doc = await this.findOwned(user, accountId);
    const [config, activity] = await Promise.all([
      this.settings.configFor(user.id, accountId),
      this.activity.of([doc._id]),
    ]);
    return toResponse(doc, config, activity.get(doc._id.toHexString()));
  }

  async refresh(user: AuthUser, accountId: string): Promise<AccountResponseDto> {
    const doc = await this.findOwned(user, accountId);
    if (doc.status === AccountStatus.NeedsReauth) {
      throw reauthRequired(
        'The Instagram account must be reconnected: its token is no longer valid',
      );
    }
    const obtainedAt = doc.token_refreshed_at ?? doc.updated_at;
    if (obtainedAt && Date.now() - new Date(obtainedAt).getTime() < MIN_TOKEN_AGE_MS) {
      throw new AppError(
        HttpStatus.CONFLICT,
        'TOKEN_TOO_RECENT',
        'Instagram refreshes tokens that are at least 24 hours old; this one is newer',
      );
    }
    const owned: Owned = { _id: doc._id, user_id: user.id, is_deleted: { $ne: true } };
    await this.tokens.refreshOne(owned);
    return this.get(user, accountId);
  }

  async resubscribe(user: AuthUser, accountId: string): Promise<AccountResponseDto> {
    const doc = await this.findOwned(user, accountId);
    const graph = this.graphAccountOf(doc);
    const result = await this.subscribe(graph);
    const now = new Date();
    // A token the Python service encrypted (Fernet) is stored in the current format on this write.
    const token = this.tokens.reencrypted(
      doc._id.toHexString(),
      doc.access_token,
      graph.accessToken,
    );
    await this.writeLock.run(doc._id, () =>
      this.accounts.collection.updateOne(
        // Deleted while Meta answered: nothing (least of all a token) is written back.
        { _id: doc._id, user_id: user.id, is_deleted: { $ne: true } },
        result.subscription_error
          ? {
              $set: {
                subscription_checked_at: now,
                subscription_error: result.subscription_error,
                updated_at: now,
                ...token,
              },
            }
          : {
              $set: {
                subscribed_fields: result.subscribed_fields,
                subscription_checked_at: now,
                updated_at: now,
                ...token,
              },
              $unset: { subscription_error: '' },
            },
      ),
    );
    if (result.subscription_error) {
      throw new AppError(
        HttpStatus.BAD_GATEWAY,
        'SUBSCRIPTION_FAILED',
        'Instagram did not accept the webhook subscription; retry later',
        {
          details: { subscription_error: result.subscription_error },
        },
      );
    }
    return this.get(user, accountId);
  }

  /**
   * Unsubscribes at Meta (best effort), soft-deletes the account and its config. Holds the
   * account's connect lock, so a reconnect whose Meta calls are in flight finishes first instead
   * of writing the account back to life after the delete.
   */
  async remove(
    user: AuthUser,
    accountId: string,
    purge: boolean,
  ): Promise<{ id: string; unsubscribed: boolean; purge: boolean }> {
    const found = await this.findOwned(user, accountId);
    const igId = found.instagram_data?.ig_id ?? found.instagram_data?.id;
    const removeNow = () => this.removeLocked(user, accountId, purge);
    if (!igId) return removeNow();
    const held = await this.connectLock.withLock(igId, removeNow);
    if (!held) {
      throw new AppError(
        HttpStatus.CONFLICT,
        'ACCOUNT_BUSY',
        'A connect of this Instagram account is in progress; retry in a few seconds',
        { headers: { 'Retry-After': '5' } },
      );
    }
    return held.value;
  }

  private async removeLocked(
    user: AuthUser,
    accountId: string,
    purge: boolean,
  ): Promise<{ id: string; unsubscribed: boolean; purge: boolean }> {
    const doc = await this.findOwned(user, accountId);
    let unsubscribed = false;
    try {
      unsubscribed = await this.graph.unsubscribeApp(this.graphAccountOf(doc));
    } catch (error) {
      this.logger.warn(
        { accountId, code: error instanceof AppError ? error.code : undefined },
        'unsubscribe at Meta failed; deleting anyway',
      );
    }
    const now = new Date();
    // Before the write: a message this process is about to store for the account is refused from
    // here on (isLive), not written after the purge has passed.
    this.deletedHere.add(accountId);
    this.liveUntil.delete(accountId);
    const deleted = this.writeLock.run(doc._id, () =>
      this.accounts.collection.updateOne(
        { _id: doc._id, user_id: user.id },
        {
          $set: {
            is_deleted: true,
            deleted_at: now,
            status: AccountStatus.Disconnected,
            subscribed_fields: [],
            updated_at: now,
            // Durable before the event: a purge interrupted by a restart is resumed from it.
            ...(purge ? { purge_requested_at: now } : {}),
          },
          $unset: { access_token: '', refresh_token: '' },
        },
      ),
    );
    await deleted.catch((error: unknown) => {
      this.deletedHere.delete(accountId);
      throw error;
    });
    await this.settings.markDeleted(user.id, accountId);
    const event: AccountDeletedEvent = { accountId, userId: user.id, purge };
    this.events.emit(ACCOUNT_DELETED, event);
    this.logger.log({ accountId, purge }, 'account deleted');
    return { id: accountId, unsubscribed, purge };
  }

  // ---------------------------------------------------------------- shared with connect

  /**
   * Subscribes the account to our webhook fields and reads back which ones Meta kept: Meta answers
   * success even when it dropped fields that the app itself is not subscribed to.
   */
  async subscribe(graph: GraphAccount): Promise<SubscriptionResult> {
    try {
      await this.graph.subscribeApp(graph, WEBHOOK_FIELDS);
      const apps = await this.graph.getSubscribedApps(graph);
      const clientId = this.config.get('INSTAGRAM_CLIENT_ID', { infer: true });
      const ours = apps.find((a) => a.id === clientId) ?? (apps.length === 1 ? apps[0] : undefined);
      const fields = ours?.subscribed_fields ?? [];
      const missing = WEBHOOK_FIELDS.filter((f) => !fields.includes(f));
      if (missing.length)
        this.logger.warn({ igId: graph.igId, missing }, 'Meta did not keep every webhook field');
      return { subscribed_fields: fields };
    } catch (error) {
      const code = error instanceof AppError ? error.code : 'UNKNOWN';
      this.logger.warn({ igId: graph.igId, code }, 'webhook subscription failed');
      return { subscribed_fields: [], subscription_error: code };
    }
  }

  // ---------------------------------------------------------------- helpers

  private async findOwned(user: AuthUser, accountId: string): Promise<AccountDoc> {
    if (!Types.ObjectId.isValid(accountId)) throw this.notFound();
    const owned: Owned = { _id: new Types.ObjectId(accountId), user_id: user.id };
    const doc = await this.findLive(owned);
    if (!doc) throw this.notFound();
    return doc;
  }

  private findLive(filter: FilterQuery<Account>): Promise<AccountDoc | null> {
    return this.accounts
      .findOne({ ...filter, is_deleted: { $ne: true } })
      .lean<AccountDoc>()
      .exec();
  }

  private objectId(id: string): Types.ObjectId {
    if (!Types.ObjectId.isValid(id)) throw this.notFound();
    return new Types.ObjectId(id);
  }

  private notFound(): AppError {
    return new NotFoundError('ACCOUNT_NOT_FOUND', 'Instagram account not found');
  }

  private graphAccountOf(account: AccountDoc): GraphAccount {
    const accountId = account._id.toHexString();
    const status = statusOf(account);
    if (status !== 'active') {
      throw reauthRequired(
        'The Instagram account must be reconnected: its access was revoked or expired',
        {
          status,
          ...(account.status_reason ? { status_reason: account.status_reason } : {}),
        },
      );
    }
    const igId = igIdOf(account);
    return { igId, accessToken: this.tokens.decrypt(accountId, account.access_token) };
  }

  private routed(account: AccountDoc, config: AccountConfig | null): RoutedAccount {
    return {
      accountId: account._id.toHexString(),
      userId: account.user_id,
      igId: igIdOf(account),
      ...((account.meta?.username ?? account.instagram_data?.username)
        ? { username: account.meta?.username ?? account.instagram_data?.username }
        : {}),
      ...(account.meta?.name ? { name: account.meta.name } : {}),
      ingestEnabled: isConfigEnabled(config),
      status: statusOf(account),
    };
  }
}
