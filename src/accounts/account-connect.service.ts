import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import type {
  InstagramMe,
  LongLivedToken,
  ShortLivedToken,
} from '../instagram-graph/instagram-graph.types';
import { AccountTokensService } from './account-tokens.service';
import { AccountWriteLock } from './account-write-lock';
import { AccountsService } from './accounts.service';
import { ACCOUNT_CONNECTED, AccountConnectedEvent, CONNECT_SCOPES } from './accounts.types';
import { OAuthStateService } from './oauth-state.service';
import { missingScopes } from './account-response.mapping';
import { Account, AccountStatus, INSTAGRAM_PLATFORM } from './schemas/account.schema';
import { ConnectLockService } from './connect-lock.service';
import { UserSettingsService } from './user-settings.service';

export const CALLBACK_PATH = '/accounts/instagram/callback';

export type ConnectErrorCode =
  | 'OAUTH_DENIED'
  | 'OAUTH_STATE_INVALID'
  | 'OAUTH_CODE_INVALID'
  | 'META_ERROR'
  | 'ACCOUNT_OWNED_BY_ANOTHER_USER'
  | 'CONNECT_IN_PROGRESS'
  | 'INTERNAL_ERROR';

export interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
}

class ConnectFailure extends Error {
  constructor(readonly code: ConnectErrorCode) {
    super(code);
  }
}

/**
 * How the finish answers a failure after the ticket was redeemed. Each one used the ticket up
 * (and most the code at Meta too), so the dashboard starts a new connect rather than retrying.
 */
const FINISH_FAILURES: Partial<Record<ConnectErrorCode, [HttpStatus, string]>> = {
  OAUTH_CODE_INVALID: [
    HttpStatus.BAD_REQUEST,
    'Instagram refused the authorization code (expired or already used): start the connect again',
  ],
  META_ERROR: [
    HttpStatus.BAD_GATEWAY,
    'Instagram did not complete the connect: start the connect again',
  ],
  ACCOUNT_OWNED_BY_ANOTHER_USER: [
    HttpStatus.CONFLICT,
    'This Instagram account is connected by another user: they must disconnect it first',
  ],
  CONNECT_IN_PROGRESS: [
    HttpStatus.CONFLICT,
    'Another connect of this Instagram account is in progress: start the connect again in a few seconds',
  ],
};

export interface ConnectFinished {
  account_id: string;
  /** Scopes the user unticked on Instagram's consent screen. */
  missing_scopes: string[];
}

/**
 * Business Login for Instagram: the authorize URL; the callback, which checks the state and parks
 * the code under a ticket for the browser that consented; the finish, where the user who asked
 * for the URL redeems that ticket and the code becomes a stored, subscribed and enabled account.
 * Meta calls come first and the account is written last, so a failure leaves nothing half-stored.
 */
@Injectable()
export class AccountConnectService {
  private readonly logger = new Logger(AccountConnectService.name);
  private readonly redirectUri: string;
  private readonly frontendUrl: string;

  constructor(
    @InjectModel(Account.name) private readonly accounts: Model<Account>,
    private readonly connectLock: ConnectLockService,
    private readonly graph: InstagramGraphService,
    private readonly states: OAuthStateService,
    private readonly tokens: AccountTokensService,
    private readonly writeLock: AccountWriteLock,
    private readonly accountsService: AccountsService,
    private readonly settings: UserSettingsService,
    private readonly events: EventEmitter2,
    @Inject(ConfigService) config: AppConfig,
  ) {
    this.redirectUri = `${config.get('API_URL', { infer: true }).replace(/\/+$/, '')}${CALLBACK_PATH}`;
    this.frontendUrl = config.get('FRONTEND_URL', { infer: true });
  }

  authorizeUrl(user: AuthUser): { url: string } {
    return {
      url: this.graph.authorizeUrl({
        redirectUri: this.redirectUri,
        scopes: CONNECT_SCOPES,
        state: this.states.issue(user.id),
      }),
    };
  }

  /**
   * Never throws: every outcome is a redirect to the frontend. Calls nothing at Meta: the browser
   * here may not be the one of the user who asked for the URL (an attacker can send that URL to
   * the owner of an Instagram account), so the code waits for that user's finish.
   */
  async callback(query: CallbackQuery): Promise<string> {
    try {
      const ticket = await this.authorized(query);
      return this.frontend({ instagram: 'authorized', connect_ticket: ticket });
    } catch (error) {
      const code = error instanceof ConnectFailure ? error.code : 'INTERNAL_ERROR';
      if (!(error instanceof ConnectFailure))
        this.logger.error({ err: error }, 'instagram connect failed unexpectedly');
      return this.frontend({ instagram: 'error', code });
    }
  }

  /**
   * The dashboard brings back the ticket its browser landed with, under the user's own token: the
   * connect goes through only when that user is the one who asked for the authorize URL.
   */
  async finish(user: AuthUser, ticket: string): Promise<ConnectFinished> {
    const redeemed = await this.states.redeem(ticket, user.id);
    if (!redeemed.ok) {
      if (redeemed.reason === 'other_user') {
        this.logger.warn(
          { userId: user.id, startedBy: redeemed.ownerId },
          'instagram connect refused: the ticket belongs to a connect another user started',
        );
        throw new AppError(
          HttpStatus.FORBIDDEN,
          'CONNECT_USER_MISMATCH',
          'This Instagram connect was started by another igdm user: nothing was connected. Start the connect from your own dashboard',
        );
      }
      // 404, not 400: a well-formed ticket that names no pending connect is a missing resource.
      throw new AppError(
        HttpStatus.NOT_FOUND,
        'CONNECT_TICKET_NOT_FOUND',
        'The connect ticket is unknown, expired or already used: start the connect again',
      );
    }
    try {
      const { accountId, missing } = await this.connect(redeemed.userId, redeemed.code);
      return { account_id: accountId, missing_scopes: missing };
    } catch (error) {
      const failure = error instanceof ConnectFailure ? FINISH_FAILURES[error.code] : undefined;
      if (!failure) throw error;
      throw new AppError(failure[0], (error as ConnectFailure).code, failure[1]);
    }
  }

  /** Checks the callback and parks its code; returns the ticket for the browser. */
  private async authorized(query: CallbackQuery): Promise<string> {
    if (query.error) {
      this.logger.log({ error: query.error.slice(0, 50) }, 'instagram connect denied');
      throw new ConnectFailure('OAUTH_DENIED');
    }
    const state = await this.states.consume(query.state);
    if (!state.ok) {
      this.logger.warn({ reason: state.reason }, 'instagram connect: bad state');
      throw new ConnectFailure('OAUTH_STATE_INVALID');
    }
    if (!query.code) throw new ConnectFailure('OAUTH_CODE_INVALID');
    return this.states.park(state.nonce, query.code);
  }

  private async connect(
    userId: string,
    code: string,
  ): Promise<{ accountId: string; missing: string[] }> {
    const short = await this.meta(() => this.graph.exchangeCode(code, this.redirectUri));
    const long = await this.meta(() => this.graph.exchangeLongLived(short.access_token));
    const me = await this.meta(() => this.graph.getMe(long.access_token));
    const igId = me.user_id;
    if (short.user_id !== igId)
      this.logger.warn(
        { igId, codeUserId: short.user_id },
        'code exchange and /me name different accounts',
      );

    const missing = missingScopes(short.permissions) ?? [];
    if (missing.length)
      this.logger.warn({ igId, missing }, 'instagram connect: scopes not granted');

    const held = await this.connectLock.withLock(igId, () =>
      this.connectLocked(userId, igId, short, long, me),
    );
    if (!held) throw new ConnectFailure('CONNECT_IN_PROGRESS');
    return { accountId: held.value, missing };
  }

  /** The ownership check and the write, while this process holds the account's connect lock. */
  private async connectLocked(
    userId: string,
    igId: string,
    short: ShortLivedToken,
    long: LongLivedToken,
    me: InstagramMe,
  ): Promise<string> {
    const existing = await this.accounts
      .find({
        $or: [{ 'instagram_data.ig_id': igId }, { 'instagram_data.id': igId }],
        is_deleted: { $ne: true },
      })
      .lean<(Account & { _id: Types.ObjectId })[]>()
      .exec();
    if (existing.some((a) => a.user_id !== userId)) {
      this.logger.warn({ igId }, 'instagram connect refused: account owned by another user');
      throw new ConnectFailure('ACCOUNT_OWNED_BY_ANOTHER_USER');
    }

    const subscription = await this.accountsService.subscribe({
      igId,
      accessToken: long.access_token,
    });
    // A soft-deleted account of the same user is revived, so its DMs keep their account id.
    const mine =
      existing[0] ??
      (await this.accounts
        .findOne({
          $or: [{ 'instagram_data.ig_id': igId }, { 'instagram_data.id': igId }],
          user_id: userId,
        })
        .sort({ updated_at: -1 })
        .lean<Account & { _id: Types.ObjectId }>()
        .exec());
    const accountId = await this.store(userId, mine?._id, short, long, me, subscription);

    await this.settings.enable(userId, accountId, me.name ?? me.username);
    const event: AccountConnectedEvent = { accountId, userId, igId };
    this.events.emit(ACCOUNT_CONNECTED, event);
    this.logger.log({ accountId, igId, reconnected: !!mine }, 'instagram account connected');
    return accountId;
  }

  private async store(
    userId: string,
    existingId: Types.ObjectId | undefined,
    short: ShortLivedToken,
    long: LongLivedToken,
    me: InstagramMe,
    subscription: { subscribed_fields: string[]; subscription_error?: string },
  ): Promise<string> {
    const now = new Date();
    const igId = me.user_id;
    // Known before the insert: the token is encrypted bound to it.
    const accountId = existingId ?? new Types.ObjectId();
    const fields = {
      ...this.tokens.tokenFields(accountId.toHexString(), long, now),
      instagram_data: {
        ig_id: igId,
        id: igId,
        username: me.username,
        ...(me.app_scoped_id ? { app_scoped_id: me.app_scoped_id } : {}),
        ...(me.account_type ? { account_type: me.account_type } : {}),
      },
      meta: { id: igId, name: me.name ?? me.username, username: me.username },
      status: AccountStatus.Active,
      scopes: short.permissions,
      subscribed_fields: subscription.subscribed_fields,
      subscription_checked_at: now,
      updated_at: now,
    };
    if (existingId) {
      await this.writeLock.run(existingId, () =>
        this.accounts.collection.updateOne(
          { _id: existingId, user_id: userId },
          {
            $set: {
              ...fields,
              is_deleted: false,
              ...(subscription.subscription_error
                ? { subscription_error: subscription.subscription_error }
                : {}),
            },
            $unset: {
              status_reason: '',
              deleted_at: '',
              // A revived account keeps the DMs it still has; a pending purge stops here.
              purge_requested_at: '',
              ...(subscription.subscription_error ? {} : { subscription_error: '' }),
            },
          },
        ),
      );
      return existingId.toHexString();
    }
    const _id = accountId;
    await this.accounts.collection.insertOne({
      _id,
      user_id: userId,
      platform: INSTAGRAM_PLATFORM,
      ...fields,
      ...(subscription.subscription_error
        ? { subscription_error: subscription.subscription_error }
        : {}),
      created_at: now,
    });
    return _id.toHexString();
  }

  /** Runs a Meta call; its failure becomes the redirect's error code. */
  private async meta<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const code = error instanceof AppError ? error.code : undefined;
      this.logger.warn({ code }, 'instagram connect: Meta call failed');
      throw new ConnectFailure(code === 'OAUTH_CODE_INVALID' ? 'OAUTH_CODE_INVALID' : 'META_ERROR');
    }
  }

  private frontend(params: Record<string, string>): string {
    const url = new URL(this.frontendUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.toString();
  }
}
