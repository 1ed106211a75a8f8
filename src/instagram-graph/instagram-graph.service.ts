import { HttpService } from '@nestjs/axios';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AxiosResponse } from 'axios';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { firstValueFrom } from 'rxjs';
import { AppError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import { idString, parseGraphJson } from './graph-json';
import { GRAPH_TUNING } from './graph-tuning';
import type { GraphTuning } from './graph-tuning';
import {
  AuthorizeUrlParams,
  Conversation,
  ConversationMessagesParams,
  GraphAccount,
  GraphMessage,
  INSTAGRAM_TOKEN_INVALID,
  InstagramMe,
  InstagramTokenInvalidEvent,
  ListConversationsParams,
  LongLivedToken,
  OutgoingAttachment,
  Page,
  SendOptions,
  SendResult,
  SenderAction,
  ShortLivedToken,
  SubscribedApp,
  UsageSnapshot,
  UserProfile,
} from './instagram-graph.types';
import {
  MetaApiError,
  metaErrorBodyOf,
  oauthCodeInvalid,
  OAuthErrorBody,
  oauthErrorBodyOf,
  ruleFor,
} from './meta-error';
import { GraphRateLimiter, parseUsageHeaders, regainMinutes } from './rate-limiter';
import {
  AttemptFailure,
  backoffDelay,
  CallKind,
  errorForFailure,
  shouldRetry,
  TransportErrorLike,
  transportFailure,
} from './retry-policy';

const PROFILE_FIELDS =
  'name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user,is_verified_user';
const ME_FIELDS = 'user_id,username,name,account_type,profile_picture_url';
const MESSAGE_FIELDS =
  'id,created_time,from,to,message,attachments,is_unsupported,story,shares,reply_to';
/** Meta serves message details for the 20 newest messages of a thread only (graph-api.md §5). */
const MAX_THREAD_MESSAGES = 20;
/** Meta rejects longer texts with code 100; failing here saves a call and names the problem. */
const MAX_TEXT_BYTES = 1000;

type HttpMethod = 'GET' | 'POST' | 'DELETE';

interface CallSpec {
  method: HttpMethod;
  /** Full URL without query string. Never logged: `template` is. */
  url: string;
  /** Path with placeholders, e.g. `POST /{igId}/messages`; the only form of the path in logs. */
  template: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  /** Sent as `Authorization: Bearer`, so it never appears in a URL. */
  token?: string;
  /** Account the call acts for: its usage state and its token-invalid event. */
  igId?: string;
  kind: CallKind;
  /** The code exchange answers errors in its own envelope (oauth.md §2.3). */
  oauthEnvelope?: boolean;
}

type Reader<T> = (body: unknown) => T | null;

type AttemptResult<T> =
  | { ok: true; value: T; status: number }
  | {
      ok: false;
      failure: AttemptFailure;
      headers: Record<string, unknown>;
      oauth?: OAuthErrorBody;
    };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
function numOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
function boolOrNull(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
function seg(id: string): string {
  return encodeURIComponent(id);
}
/** Accepts `{…}` and the `{data:[{…}]}` wrapping some Meta samples show. */
function unwrapData(body: unknown): Record<string, unknown> | null {
  if (isObject(body) && Array.isArray(body.data))
    return isObject(body.data[0]) ? body.data[0] : null;
  return isObject(body) ? body : null;
}
function nextCursorOf(body: Record<string, unknown>): string | null {
  const paging = body.paging;
  if (!isObject(paging)) return null;
  // Graph semantics: `next` is present only when there is a next page; the cursor says where.
  if (typeof paging.next !== 'string') return null;
  return isObject(paging.cursors) ? str(paging.cursors.after) : null;
}

/**
 * Every call igdm makes to Meta: Send API, profiles, Conversations API, webhook subscriptions and
 * the Instagram-Login OAuth endpoints. Errors come out as {@link MetaApiError}; usage headers
 * throttle each account separately; reads and failures that provably did nothing are retried,
 * a send that may have reached Meta never is.
 */
@Injectable()
export class InstagramGraphService {
  private readonly graphUrl: string;
  private readonly apiUrl: string;
  private readonly wwwUrl: string;
  private readonly version: string;
  private readonly clientId: string;
  private readonly clientSecret: string;
  private readonly limiter: GraphRateLimiter;

  constructor(
    private readonly http: HttpService,
    @Inject(ConfigService) config: AppConfig,
    private readonly events: EventEmitter2,
    @InjectPinoLogger(InstagramGraphService.name) private readonly logger: PinoLogger,
    @Inject(GRAPH_TUNING) private readonly tuning: GraphTuning,
  ) {
    this.graphUrl = stripSlash(config.get('INSTAGRAM_GRAPH_URL', { infer: true }));
    this.apiUrl = stripSlash(config.get('INSTAGRAM_API_URL', { infer: true }));
    this.wwwUrl = stripSlash(config.get('INSTAGRAM_WWW_URL', { infer: true }));
    this.version = config.get('INSTAGRAM_API_VERSION', { infer: true });
    this.clientId = config.get('INSTAGRAM_CLIENT_ID', { infer: true });
    this.clientSecret = config.get('INSTAGRAM_CLIENT_SECRET', { infer: true });
    this.limiter = new GraphRateLimiter(tuning);
  }

  // ---------------------------------------------------------------- profiles

  /**
   * The customer's profile, or null when Meta will not show it: no consent yet (230, e.g. a
   * commenter who never wrote) or Meta's review bot (9010). Callers keep the contact without one.
   */
  async getUserProfile(acct: GraphAccount, igsid: string): Promise<UserProfile | null> {
    try {
      return await this.call(
        {
          method: 'GET',
          url: this.versioned(`/${seg(igsid)}`),
          template: 'GET /{igsid}',
          query: { fields: PROFILE_FIELDS },
          token: acct.accessToken,
          igId: acct.igId,
          kind: 'read',
        },
        (body) => {
          if (!isObject(body)) return null;
          return {
            id: idString(body.id) ?? igsid,
            name: str(body.name),
            username: str(body.username),
            profile_pic: str(body.profile_pic),
            follower_count: numOrNull(body.follower_count),
            is_user_follow_business: boolOrNull(body.is_user_follow_business),
            is_business_follow_user: boolOrNull(body.is_business_follow_user),
            is_verified_user: boolOrNull(body.is_verified_user),
          };
        },
      );
    } catch (error) {
      if (error instanceof MetaApiError && error.metaCode !== null) {
        if (ruleFor(error.metaCode, error.metaSubcode).absent) return null;
      }
      throw error;
    }
  }

  // ---------------------------------------------------------------- Send API

  sendText(
    acct: GraphAccount,
    recipientId: string,
    text: string,
    opts: SendOptions = {},
  ): Promise<SendResult> {
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) return Promise.reject(textTooLong());
    const message: Record<string, unknown> = { text };
    if (opts.replyToMid) message.reply_to = { mid: opts.replyToMid };
    return this.sendMessage(acct, { id: recipientId }, message, opts.tag);
  }

  sendAttachment(
    acct: GraphAccount,
    recipientId: string,
    attachment: OutgoingAttachment,
    opts: SendOptions = {},
  ): Promise<SendResult> {
    const message: Record<string, unknown> = {
      attachment: { type: attachment.type, payload: { url: attachment.url } },
    };
    if (opts.replyToMid) message.reply_to = { mid: opts.replyToMid };
    return this.sendMessage(acct, { id: recipientId }, message, opts.tag);
  }

  sendLikeHeart(acct: GraphAccount, recipientId: string): Promise<SendResult> {
    return this.sendMessage(acct, { id: recipientId }, { attachment: { type: 'like_heart' } });
  }

  /** The one private reply a comment allows (7 days); `recipient_id` is the commenter's IGSID. */
  sendPrivateReply(acct: GraphAccount, commentId: string, text: string): Promise<SendResult> {
    if (Buffer.byteLength(text, 'utf8') > MAX_TEXT_BYTES) return Promise.reject(textTooLong());
    return this.sendMessage(acct, { comment_id: commentId }, { text });
  }

  private sendMessage(
    acct: GraphAccount,
    recipient: { id: string } | { comment_id: string },
    message: Record<string, unknown>,
    tag?: 'HUMAN_AGENT',
  ): Promise<SendResult> {
    const body: Record<string, unknown> = { recipient, message };
    if (tag) {
      body.messaging_type = 'MESSAGE_TAG';
      body.tag = tag;
    } else {
      body.messaging_type = 'RESPONSE';
    }
    const fallbackRecipient = 'id' in recipient ? recipient.id : null;
    return this.call(
      {
        method: 'POST',
        url: this.versioned(`/${seg(acct.igId)}/messages`),
        template: 'POST /{igId}/messages',
        json: body,
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'send',
      },
      (reply) => {
        if (!isObject(reply)) return null;
        const messageId = idString(reply.message_id);
        const recipientId = idString(reply.recipient_id) ?? fallbackRecipient;
        return messageId && recipientId
          ? { recipient_id: recipientId, message_id: messageId }
          : null;
      },
    );
  }

  /** Typing indicator or read receipt. Idempotent, so it is retried like a read. */
  async senderAction(acct: GraphAccount, recipientId: string, action: SenderAction): Promise<void> {
    await this.postAction(acct, { recipient: { id: recipientId }, sender_action: action });
  }

  /** Reacts to a message (any emoji; `love` shows a heart). Repeating it replaces the reaction. */
  async react(
    acct: GraphAccount,
    recipientId: string,
    mid: string,
    reaction: string = 'love',
  ): Promise<void> {
    await this.postAction(acct, {
      recipient: { id: recipientId },
      sender_action: 'react',
      payload: { message_id: mid, reaction },
    });
  }

  async unreact(acct: GraphAccount, recipientId: string, mid: string): Promise<void> {
    await this.postAction(acct, {
      recipient: { id: recipientId },
      sender_action: 'unreact',
      payload: { message_id: mid },
    });
  }

  private postAction(acct: GraphAccount, body: Record<string, unknown>): Promise<true> {
    return this.call(
      {
        method: 'POST',
        url: this.versioned(`/${seg(acct.igId)}/messages`),
        template: 'POST /{igId}/messages (sender_action)',
        json: body,
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'idempotent',
      },
      // The reply body is unconfirmed on Instagram Login (graph-api.md §2.2): any 2xx will do.
      () => true,
    );
  }

  // ---------------------------------------------------------------- webhook subscription

  getSubscribedApps(acct: GraphAccount): Promise<SubscribedApp[]> {
    return this.call(
      {
        method: 'GET',
        url: this.versioned(`/${seg(acct.igId)}/subscribed_apps`),
        template: 'GET /{igId}/subscribed_apps',
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'read',
      },
      (body) => {
        if (!isObject(body) || !Array.isArray(body.data)) return null;
        return body.data.filter(isObject).map((app) => ({
          id: idString(app.id) ?? '',
          ...(typeof app.name === 'string' ? { name: app.name } : {}),
          subscribed_fields: Array.isArray(app.subscribed_fields)
            ? app.subscribed_fields.filter((f): f is string => typeof f === 'string')
            : [],
        }));
      },
    );
  }

  /**
   * Subscribes the account to webhook fields. Meta drops fields the app itself is not subscribed
   * to and still answers success, so read the result back with {@link getSubscribedApps}.
   */
  subscribeApp(acct: GraphAccount, fields: readonly string[]): Promise<boolean> {
    return this.call(
      {
        method: 'POST',
        url: this.versioned(`/${seg(acct.igId)}/subscribed_apps`),
        template: 'POST /{igId}/subscribed_apps',
        query: { subscribed_fields: fields.join(',') },
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'idempotent',
      },
      (body) => (isObject(body) ? body.success === true : null),
    );
  }

  unsubscribeApp(acct: GraphAccount): Promise<boolean> {
    return this.call(
      {
        method: 'DELETE',
        url: this.versioned(`/${seg(acct.igId)}/subscribed_apps`),
        template: 'DELETE /{igId}/subscribed_apps',
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'idempotent',
      },
      (body) => (isObject(body) ? body.success === true : null),
    );
  }

  // ---------------------------------------------------------------- OAuth (Business Login)

  /** Where to send the browser to connect an account (oauth.md §2.1). */
  authorizeUrl({ redirectUri, scopes, state, forceReauth }: AuthorizeUrlParams): string {
    const params = new URLSearchParams({
      client_id: this.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: scopes.join(','),
      state,
    });
    if (forceReauth) params.set('force_reauth', 'true');
    return `${this.wwwUrl}/oauth/authorize?${params.toString()}`;
  }

  /**
   * Code → short-lived token (1 h). Accepts the flat reply (numeric `user_id`, `permissions`
   * array) and the documented `{data:[…]}` one; `user_id` keeps every digit.
   */
  exchangeCode(code: string, redirectUri: string): Promise<ShortLivedToken> {
    return this.call(
      {
        method: 'POST',
        url: `${this.apiUrl}/oauth/access_token`,
        template: 'POST /oauth/access_token',
        form: {
          client_id: this.clientId,
          client_secret: this.clientSecret,
          grant_type: 'authorization_code',
          redirect_uri: redirectUri,
          // Meta appends `#_` to the callback URL; it is not part of the code.
          code: code.replace(/#_$/, ''),
        },
        kind: 'once',
        oauthEnvelope: true,
      },
      (body) => {
        const token = unwrapData(body);
        if (!token) return null;
        const accessToken = str(token.access_token);
        const userId = idString(token.user_id);
        if (!accessToken || !userId) return null;
        const permissions = Array.isArray(token.permissions)
          ? token.permissions.filter((p): p is string => typeof p === 'string')
          : typeof token.permissions === 'string'
            ? token.permissions
                .split(',')
                .map((p) => p.trim())
                .filter(Boolean)
            : [];
        return { access_token: accessToken, user_id: userId, permissions };
      },
    );
  }

  /** Short-lived → long-lived token (about 60 days). Server-side only: it carries the app secret. */
  exchangeLongLived(shortToken: string): Promise<LongLivedToken> {
    return this.call(
      {
        method: 'GET',
        url: `${this.graphUrl}/access_token`,
        template: 'GET /access_token',
        query: { grant_type: 'ig_exchange_token', client_secret: this.clientSecret },
        token: shortToken,
        kind: 'read',
      },
      readLongLived,
    );
  }

  /** New 60-day token from a long-lived one that is at least 24 h old and not expired. */
  refreshToken(longToken: string): Promise<LongLivedToken> {
    return this.call(
      {
        method: 'GET',
        url: `${this.graphUrl}/refresh_access_token`,
        template: 'GET /refresh_access_token',
        query: { grant_type: 'ig_refresh_token' },
        token: longToken,
        kind: 'read',
      },
      readLongLived,
    );
  }

  /** The account a token belongs to. Persist `user_id`; `app_scoped_id` is not the account id. */
  getMe(accessToken: string): Promise<InstagramMe> {
    return this.call(
      {
        method: 'GET',
        url: this.versioned('/me'),
        template: 'GET /me',
        query: { fields: ME_FIELDS },
        token: accessToken,
        kind: 'read',
      },
      (body) => {
        const me = unwrapData(body);
        const userId = me ? idString(me.user_id) : null;
        if (!me || !userId) return null;
        return {
          user_id: userId,
          app_scoped_id: idString(me.id),
          username: str(me.username) ?? '',
          name: str(me.name),
          account_type: str(me.account_type),
          profile_picture_url: str(me.profile_picture_url),
        };
      },
    );
  }

  // ---------------------------------------------------------------- Conversations API

  listConversations(
    acct: GraphAccount,
    params: ListConversationsParams = {},
  ): Promise<Page<Conversation>> {
    return this.call(
      {
        method: 'GET',
        url: this.versioned('/me/conversations'),
        template: 'GET /me/conversations',
        query: {
          platform: 'instagram',
          user_id: params.userId,
          limit: params.limit,
          after: params.after,
        },
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'read',
      },
      (body) => {
        if (!isObject(body) || !Array.isArray(body.data)) return null;
        const data = body.data.filter(isObject).flatMap((c) => {
          const id = idString(c.id);
          return id ? [{ id, updated_time: str(c.updated_time) ?? '' }] : [];
        });
        return { data, nextCursor: nextCursorOf(body) };
      },
    );
  }

  /**
   * Newest messages of a conversation with their details, one request per page. The first page
   * uses field expansion (`?fields=messages.limit(N){…}`) rather than `fields=messages` plus one
   * lookup per message: the Conversations API allows 2 calls/s per account. Later pages use the
   * `/{conversationId}/messages` edge with the cursor, which is what Meta's own `paging.next`
   * points to. Details exist for the 20 newest messages only.
   */
  getConversationMessages(
    acct: GraphAccount,
    conversationId: string,
    params: ConversationMessagesParams = {},
  ): Promise<Page<GraphMessage>> {
    const limit = Math.min(Math.max(1, params.limit ?? MAX_THREAD_MESSAGES), MAX_THREAD_MESSAGES);
    const readPage = (edge: unknown): Page<GraphMessage> | null => {
      if (!isObject(edge) || !Array.isArray(edge.data)) return null;
      return {
        data: edge.data.filter(isObject).flatMap((m) => {
          const message = readMessage(m);
          return message ? [message] : [];
        }),
        nextCursor: nextCursorOf(edge),
      };
    };
    const common = {
      method: 'GET' as const,
      token: acct.accessToken,
      igId: acct.igId,
      kind: 'read' as const,
    };
    if (params.after) {
      return this.call(
        {
          ...common,
          url: this.versioned(`/${seg(conversationId)}/messages`),
          template: 'GET /{conversationId}/messages',
          query: { fields: MESSAGE_FIELDS, limit, after: params.after },
        },
        readPage,
      );
    }
    return this.call(
      {
        ...common,
        url: this.versioned(`/${seg(conversationId)}`),
        template: 'GET /{conversationId}?fields=messages',
        query: { fields: `messages.limit(${limit}){${MESSAGE_FIELDS}}` },
      },
      (body) => {
        if (!isObject(body)) return null;
        // A conversation without messages may come back without the `messages` field at all.
        if (body.messages === undefined) return { data: [], nextCursor: null };
        return readPage(body.messages);
      },
    );
  }

  /**
   * One message with its details: fills in edits that arrived without text and refreshes expired
   * CDN URLs of attachments.
   */
  getMessage(acct: GraphAccount, mid: string): Promise<GraphMessage> {
    return this.call(
      {
        method: 'GET',
        url: this.versioned(`/${seg(mid)}`),
        template: 'GET /{mid}',
        query: { fields: MESSAGE_FIELDS },
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'read',
      },
      (body) => (isObject(body) ? readMessage(body) : null),
    );
  }

  // ---------------------------------------------------------------- health

  /** Last usage Meta reported for the account, or null when none was seen yet. */
  usageFor(igId: string): UsageSnapshot | null {
    return this.limiter.snapshot(igId);
  }

  /** When a call for the account last succeeded (in this process). */
  lastSuccessAt(igId: string): Date | null {
    return this.limiter.lastSuccessAt(igId);
  }

  // ---------------------------------------------------------------- transport

  private versioned(path: string): string {
    return `${this.graphUrl}/${this.version}${path}`;
  }

  private async call<T>(spec: CallSpec, read: Reader<T>): Promise<T> {
    const maxAttempts = Math.max(1, this.tuning.maxAttempts);
    let failure: AttemptFailure | undefined;
    let oauth: OAuthErrorBody | undefined;
    let retryAfterSeconds: number | undefined;

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (spec.igId) await this.waitForAccount(spec, spec.igId, failure, retryAfterSeconds);
      const started = Date.now();
      const result = await this.attempt(spec, read);
      const ms = Date.now() - started;

      if (result.ok) {
        if (spec.igId) this.limiter.noteSuccess(spec.igId);
        this.logger.debug(
          {
            method: spec.method,
            path: spec.template,
            igId: spec.igId,
            status: result.status,
            ms,
            attempt,
          },
          'graph call',
        );
        return result.value;
      }

      failure = result.failure;
      oauth = result.oauth;
      const rateLimited = isRateLimit(failure);
      // Without an account to park, a rate-limited call waits here (bounded) before its retry.
      let localWaitMs = 0;
      if (rateLimited && spec.igId) {
        retryAfterSeconds = this.limiter.noteRateLimited(spec.igId);
      } else if (rateLimited) {
        const regain = regainMinutes(parseUsageHeaders(result.headers));
        localWaitMs =
          regain > 0
            ? regain * 60_000
            : backoffDelay(attempt, this.tuning.rateLimitBaseMs, this.tuning.rateLimitMaxMs);
        retryAfterSeconds = Math.max(1, Math.ceil(localWaitMs / 1000));
      } else {
        retryAfterSeconds = undefined;
      }
      const retrying =
        !oauth &&
        attempt < maxAttempts &&
        shouldRetry(failure, spec.kind) &&
        localWaitMs <= this.tuning.maxWaitMs;
      this.logger.warn(
        {
          method: spec.method,
          path: spec.template,
          igId: spec.igId,
          ms,
          attempt,
          retrying,
          ...failureLog(failure),
        },
        'graph call failed',
      );
      if (!retrying) break;
      // With an account, a rate limit's wait is in the limiter and waitForAccount applies it.
      if (!rateLimited) {
        await sleep(backoffDelay(attempt, this.tuning.retryBaseMs, this.tuning.retryMaxMs));
      } else if (localWaitMs > 0) {
        await sleep(localWaitMs);
      }
    }

    if (oauth) throw oauthCodeInvalid(oauth);
    throw this.finalError(spec, failure!, retryAfterSeconds);
  }

  /** Applies the account's throttle before an attempt, or fails fast when the wait is too long. */
  private async waitForAccount(
    spec: CallSpec,
    igId: string,
    lastFailure: AttemptFailure | undefined,
    lastRetryAfter: number | undefined,
  ): Promise<void> {
    const plan = this.limiter.plan(igId);
    if (plan.action === 'fail') {
      this.logger.warn(
        {
          method: spec.method,
          path: spec.template,
          igId,
          retryAfterSeconds: plan.retryAfterSeconds,
        },
        'graph call not sent: account rate limited',
      );
      if (lastFailure && isRateLimit(lastFailure)) {
        throw this.finalError(
          spec,
          lastFailure,
          Math.max(plan.retryAfterSeconds, lastRetryAfter ?? 0),
        );
      }
      throw new MetaApiError({
        status: HttpStatus.TOO_MANY_REQUESTS,
        code: 'META_RATE_LIMITED',
        message: 'Instagram rate limit reached for this account; retry later',
        retry: 'rate_limit',
        retryAfterSeconds: plan.retryAfterSeconds,
      });
    }
    if (plan.waitMs > 0) {
      this.logger.debug(
        { method: spec.method, path: spec.template, igId, waitMs: plan.waitMs },
        'graph call throttled',
      );
      await sleep(plan.waitMs);
    }
  }

  private finalError(
    spec: CallSpec,
    failure: AttemptFailure,
    retryAfterSeconds?: number,
  ): MetaApiError {
    const error = errorForFailure(failure, spec.kind, { retryAfterSeconds });
    if (error.reauthRequired && spec.igId && error.metaCode !== null) {
      const event: InstagramTokenInvalidEvent = {
        igId: spec.igId,
        code: error.metaCode,
        subcode: error.metaSubcode,
        reason: ruleFor(error.metaCode, error.metaSubcode).meaning,
      };
      try {
        this.events.emit(INSTAGRAM_TOKEN_INVALID, event);
      } catch (listenerError) {
        // A failing listener must not replace the Meta error the caller needs to see.
        this.logger.error({ err: listenerError, igId: spec.igId }, 'token-invalid listener failed');
      }
    }
    return error;
  }

  private async attempt<T>(spec: CallSpec, read: Reader<T>): Promise<AttemptResult<T>> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (spec.token) headers.Authorization = `Bearer ${spec.token}`;
    let data: string | undefined;
    if (spec.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      data = JSON.stringify(spec.json);
    } else if (spec.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      data = new URLSearchParams(spec.form).toString();
    }
    const params = spec.query
      ? Object.fromEntries(Object.entries(spec.query).filter(([, v]) => v !== undefined))
      : undefined;

    let res: AxiosResponse<string>;
    try {
      res = await firstValueFrom(
        this.http.request<string>({
          method: spec.method,
          url: spec.url,
          params,
          data,
          headers,
          responseType: 'text',
          // Keep the raw text: ids in it may not survive JSON.parse.
          transformResponse: (raw: unknown) => raw,
          validateStatus: () => true,
        }),
      );
    } catch (error) {
      // The axios error carries the request config (Authorization included): classify and drop it.
      return { ok: false, failure: transportFailure(error as TransportErrorLike), headers: {} };
    }

    const replyHeaders = { ...(res.headers as Record<string, unknown>) };
    if (spec.igId) this.limiter.observe(spec.igId, replyHeaders);
    const text = typeof res.data === 'string' ? res.data : '';
    const body = parseGraphJson(text);
    const metaError = metaErrorBodyOf(body);
    const fail = (failure: AttemptFailure, oauth?: OAuthErrorBody): AttemptResult<T> => ({
      ok: false,
      failure,
      headers: replyHeaders,
      oauth,
    });

    if (metaError) {
      if (!metaError.fbtrace_id && typeof replyHeaders['x-fb-trace-id'] === 'string') {
        metaError.fbtrace_id = replyHeaders['x-fb-trace-id'];
      }
      return fail({ kind: 'meta', body: metaError, httpStatus: res.status });
    }
    if (res.status >= 200 && res.status < 300) {
      const value = body === undefined ? null : read(body);
      return value === null
        ? fail({ kind: 'bad_reply', httpStatus: res.status })
        : { ok: true, value, status: res.status };
    }
    if (spec.oauthEnvelope && res.status < 500) {
      const oauth = oauthErrorBodyOf(body);
      if (oauth) return fail({ kind: 'bad_reply', httpStatus: res.status }, oauth);
    }
    if (res.status >= 500) return fail({ kind: 'server', httpStatus: res.status });
    return fail({ kind: 'bad_reply', httpStatus: res.status });
  }
}

function textTooLong(): AppError {
  return new AppError(
    HttpStatus.UNPROCESSABLE_ENTITY,
    'TEXT_TOO_LONG',
    `Instagram accepts at most ${MAX_TEXT_BYTES} bytes of text per message`,
  );
}

function isRateLimit(failure: AttemptFailure): boolean {
  return (
    failure.kind === 'meta' &&
    ruleFor(failure.body.code, failure.body.error_subcode).retry === 'rate_limit'
  );
}

/** Log fields of a failure: codes and trace id only, never Meta's message (it may quote input). */
function failureLog(failure: AttemptFailure): Record<string, unknown> {
  switch (failure.kind) {
    case 'meta':
      return {
        status: failure.httpStatus,
        metaCode: failure.body.code,
        metaSubcode: failure.body.error_subcode,
        metaType: failure.body.type,
        fbtraceId: failure.body.fbtrace_id,
      };
    case 'server':
    case 'bad_reply':
      return { status: failure.httpStatus, failure: failure.kind };
    case 'transport':
      return {
        failure: 'transport',
        errorCode: failure.errorCode,
        timeout: failure.timeout,
        reachedMeta: failure.reachedMeta,
      };
  }
}

function readLongLived(body: unknown): LongLivedToken | null {
  const token = unwrapData(body);
  if (!token) return null;
  const accessToken = str(token.access_token);
  const expiresIn =
    typeof token.expires_in === 'number' ? token.expires_in : Number(token.expires_in);
  if (!accessToken || !Number.isFinite(expiresIn)) return null;
  return {
    access_token: accessToken,
    token_type: str(token.token_type) ?? 'bearer',
    expires_in: expiresIn,
  };
}

function readMessage(m: Record<string, unknown>): GraphMessage | null {
  const id = idString(m.id);
  if (!id) return null;
  const message: GraphMessage = { id, created_time: str(m.created_time) ?? '' };
  if (isObject(m.from)) {
    const fromId = idString(m.from.id);
    if (fromId)
      message.from = {
        id: fromId,
        ...(typeof m.from.username === 'string' ? { username: m.from.username } : {}),
      };
  }
  if (isObject(m.to) && Array.isArray(m.to.data)) {
    message.to = {
      data: m.to.data.filter(isObject).flatMap((u) => {
        const uid = idString(u.id);
        return uid
          ? [{ id: uid, ...(typeof u.username === 'string' ? { username: u.username } : {}) }]
          : [];
      }),
    };
  }
  if (typeof m.message === 'string') message.message = m.message;
  if (isObject(m.attachments) && Array.isArray(m.attachments.data)) {
    message.attachments = { data: m.attachments.data.filter(isObject) };
  }
  if (typeof m.is_unsupported === 'boolean') message.is_unsupported = m.is_unsupported;
  if (isObject(m.story)) message.story = m.story;
  if (isObject(m.shares) && Array.isArray(m.shares.data)) {
    message.shares = { data: m.shares.data.filter(isObject) };
  }
  if (isObject(m.reply_to)) message.reply_to = m.reply_to;
  return message;
}
