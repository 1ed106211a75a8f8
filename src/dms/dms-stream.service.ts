import { HttpStatus, Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import type { Request, Response } from 'express';
import { Model } from 'mongoose';
import { Subject, Subscription } from 'rxjs';
import { ACCOUNT_DELETED, type AccountDeletedEvent } from '../accounts/accounts.types';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import { DmsService, serializeDm, windowOf } from './dms.service';
import {
  CONVERSATION_CHANGED,
  DM_CHANGED,
  type ConversationChangedEvent,
  type DmChangedEvent,
} from './events/dm-events';
import { InstagramConversation } from './schemas/instagram-conversation.schema';
import { InstagramDm } from './schemas/instagram-dm.schema';

export const DMS_STREAM_OPTIONS = Symbol('DMS_STREAM_OPTIONS');

export interface DmsStreamOptions {
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  heartbeatMs: number;
  /**
   * > 0: each stream also polls the database for DMs/conversations updated after the last event
   * it sent, so changes written by other instances reach it too. 0: local events only.
   */
  pollMs: number;
  /** Documents of each collection read per page of a resume. */
  replayLimit: number;
  /** Most documents one resume sends in all; a larger gap gets a `resync` event instead. */
  replayMax: number;
  /** Streams one user may hold open at once on this instance. */
  maxPerUser: number;
  /** How often a stream re-reads which accounts are the caller's (changes made elsewhere). */
  rescopeMs: number;
}

/** From the validated DMS_STREAM_* variables (bounds and defaults in src/config/env.ts). */
export function streamOptionsFromConfig(config: AppConfig): DmsStreamOptions {
  return {
    heartbeatMs: config.get('DMS_STREAM_HEARTBEAT_MS', { infer: true }),
    pollMs: config.get('DMS_STREAM_POLL_MS', { infer: true }),
    replayLimit: config.get('DMS_STREAM_REPLAY_LIMIT', { infer: true }),
    replayMax: config.get('DMS_STREAM_REPLAY_MAX', { infer: true }),
    maxPerUser: config.get('DMS_STREAM_MAX_PER_USER', { infer: true }),
    rescopeMs: 60_000,
  };
}

/** An open stream, as the service's per-user registry knows it. */
interface OpenStream {
  /** The caller lost this account (deleted here); a stream limited to it ends. */
  accountRemoved(accountId: string): void;
}

/** One server-sent event; `id` is `<updated_at ms>-<_id>`, so a resume is a database query. */
interface StreamItem {
  accountId: string;
  id: string;
  t: number;
  key: string;
  event: 'dm' | 'dm.deleted' | 'conversation';
  data: unknown;
}

type LeanDm = InstagramDm & Record<string, unknown>;

export function parseEventId(raw: string | undefined): { t: number; key: string } | null {
  if (!raw) return null;
  const dash = raw.indexOf('-');
  if (dash <= 0) return null;
  const t = Number(raw.slice(0, dash));
  const key = raw.slice(dash + 1);
  if (!Number.isSafeInteger(t) || t < 0 || key.length === 0 || key.length > 200) return null;
  return { t, key };
}

const after = (a: { t: number; key: string }, b: { t: number; key: string }) =>
  a.t > b.t || (a.t === b.t && a.key > b.key);

/** A client that stopped reading is let go past this much unsent data; it resumes by its id. */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
/**
 * Retry-After of a stream refused for being one too many: streams are long-lived, so no moment is
 * known when one frees up; this only keeps a looping client from retrying at once.
 */
const TOO_MANY_STREAMS_RETRY_S = 30;

/**
 * Live DMs and conversations of the caller's accounts as Server-Sent Events.
 * Live events come from this process's EventEmitter ('dm.changed', 'conversation.changed'); with
 * several instances, set DMS_STREAM_POLL_MS so each stream also polls the database on updated_at.
 */
@Injectable()
export class DmsStreamService implements OnModuleDestroy {
  private readonly logger = new Logger(DmsStreamService.name);
  private readonly live = new Subject<StreamItem>();
  /** Open streams per user id (this instance only: each instance enforces the cap on its own). */
  private readonly streams = new Map<string, Set<OpenStream>>();

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    @InjectModel(InstagramConversation.name)
    private readonly conversations: Model<InstagramConversation>,
    private readonly dmsService: DmsService,
    @Inject(DMS_STREAM_OPTIONS) private readonly options: DmsStreamOptions,
  ) {}

  onModuleDestroy(): void {
    this.live.complete();
  }

  /** Synchronous, so it runs before the purge's deletions are announced (account-purge.listener). */
  @OnEvent(ACCOUNT_DELETED, { suppressErrors: true })
  onAccountDeleted(event: AccountDeletedEvent): void {
    if (!event?.userId || !event.accountId) return;
    for (const stream of this.streams.get(event.userId) ?? []) {
      try {
        stream.accountRemoved(event.accountId);
      } catch (error) {
        this.logger.warn({ err: (error as Error).name }, 'stream: account removal failed');
      }
    }
  }

  /** Counts the stream against the user's cap, or refuses it before anything is written. */
  private admit(userId: string, stream: OpenStream): void {
    const open = this.streams.get(userId) ?? new Set<OpenStream>();
    const max = this.options.maxPerUser;
    if (open.size >= max) {
      this.logger.warn({ userId, open: open.size }, 'stream refused: too many open');
      throw new AppError(
        HttpStatus.TOO_MANY_REQUESTS,
        'TOO_MANY_STREAMS',
        `At most ${max} live streams per user are open at once; close one or retry later`,
        { headers: { 'Retry-After': String(TOO_MANY_STREAMS_RETRY_S) } },
      );
    }
    open.add(stream);
    this.streams.set(userId, open);
  }

  private release(userId: string, stream: OpenStream): void {
    const open = this.streams.get(userId);
    open?.delete(stream);
    if (open?.size === 0) this.streams.delete(userId);
  }

  @OnEvent(DM_CHANGED, { async: true, promisify: true, suppressErrors: true })
  async onDmChanged(event: DmChangedEvent): Promise<void> {
    if (!event?.dmId) return;
    try {
      if (event.change === 'deleted') {
        const t = Date.now();
        this.live.next({
          accountId: event.accountId,
          id: `${t}-${event.dmId}`,
          t,
          key: event.dmId,
          event: 'dm.deleted',
          data: {
            _id: event.dmId,
            platform_account_id: event.accountId,
            conversation_id: event.conversationId,
          },
        });
        return;
      }
      if (this.streams.size === 0) return; // nobody listening here: no read
      const dm =
        (event.dm as LeanDm | undefined) ??
        (await this.dms.findById(event.dmId).lean<LeanDm>().exec());
      if (dm) this.live.next(this.dmItem(dm));
    } catch (error) {
      this.logger.warn(
        { dmId: event.dmId, err: (error as Error).name },
        'stream: dm lookup failed',
      );
    }
  }

  @OnEvent(CONVERSATION_CHANGED, { async: true, promisify: true, suppressErrors: true })
  async onConversationChanged(event: ConversationChangedEvent): Promise<void> {
    if (!event?.conversationId || this.streams.size === 0) return;
    try {
      const conv =
        (event.conversation as InstagramConversation | undefined) ??
        (await this.conversations
          .findById(event.conversationId)
          .lean<InstagramConversation>()
          .exec());
      if (conv) this.live.next(this.conversationItem(conv));
    } catch (error) {
      this.logger.warn(
        { conversationId: event.conversationId, err: (error as Error).name },
        'stream: conversation lookup failed',
      );
    }
  }

  private dmItem(dm: LeanDm): StreamItem {
    const t = (dm.updated_at ?? dm.created_at ?? new Date(0)).getTime();
    const key = String(dm._id);
    return {
      accountId: dm.platform_account_id,
      id: `${t}-${key}`,
      t,
      key,
      event: 'dm',
      data: serializeDm(dm),
    };
  }

  private conversationItem(c: InstagramConversation): StreamItem {
    const t = (c.updated_at ?? c.created_at ?? new Date(0)).getTime();
    return {
      accountId: c.platform_account_id,
      id: `${t}-${c._id}`,
      t,
      key: c._id,
      event: 'conversation',
      data: { ...c, window: windowOf(c.last_inbound_at) },
    };
  }

  /**
   * What of these accounts changed after `since`, in (t, key) order. Each collection is read up
   * to the replay limit; when one hit it, the page stops at that collection's last item, so a
   * cursor moved to the page's end never skips what the capped collection still holds
   * (`truncated`: read on from the last item).
   */
  private async changedSince(
    accountIds: string[],
    since: { t: number; key: string },
  ): Promise<{ items: StreamItem[]; truncated: boolean }> {
    if (accountIds.length === 0) return { items: [], truncated: false };
    const at = new Date(since.t);
    // Served by { platform_account_id: 1, updated_at: 1, _id: 1 } on both collections.
    const [dms, convs] = await Promise.all([
      this.dms
        .find({ platform_account_id: { $in: accountIds }, updated_at: { $gte: at } })
        .sort({ updated_at: 1, _id: 1 })
        .limit(this.options.replayLimit)
        .lean<LeanDm[]>()
        .exec(),
      this.conversations
        .find({ platform_account_id: { $in: accountIds }, updated_at: { $gte: at } })
        .sort({ updated_at: 1, _id: 1 })
        .limit(this.options.replayLimit)
        .lean<InstagramConversation[]>()
        .exec(),
    ]);
    const dmItems = dms.map((d) => this.dmItem(d));
    const convItems = convs.map((c) => this.conversationItem(c));
    const limit = this.options.replayLimit;
    const ends = [
      ...(dms.length >= limit ? [dmItems[dmItems.length - 1]] : []),
      ...(convs.length >= limit ? [convItems[convItems.length - 1]] : []),
    ];
    const end = ends.reduce<StreamItem | undefined>(
      (a, b) => (!a || after(a, b) ? b : a),
      undefined,
    );
    const items = [...dmItems, ...convItems]
      .filter((item) => after(item, since) && (!end || !after(item, end)))
      .sort((a, b) => a.t - b.t || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { items, truncated: end !== undefined };
  }

  /**
   * Documents of these accounts changed since `since`, counted up to `cap` per collection (a
   * range of the same index the replay reads), so a resume too large for the bound costs a count,
   * not the replay of documents the client must reload anyway.
   */
  private async countSince(
    accountIds: string[],
    since: { t: number; key: string },
    cap: number,
  ): Promise<number> {
    if (accountIds.length === 0) return 0;
    const at = new Date(since.t);
    const [dms, convs] = await Promise.all([
      this.dms
        .countDocuments({ platform_account_id: { $in: accountIds }, updated_at: { $gte: at } })
        .limit(cap)
        .exec(),
      this.conversations
        .countDocuments({ platform_account_id: { $in: accountIds }, updated_at: { $gte: at } })
        .limit(cap)
        .exec(),
    ]);
    return dms + convs;
  }

  /** Serves one stream on the raw response until the client goes away or loses access. */
  async open(
    user: AuthUser,
    req: Request,
    res: Response,
    opts: { lastEventId?: string; accountId?: string },
  ): Promise<void> {
    const stream: OpenStream = { accountRemoved: () => undefined };
    this.admit(user.id, stream);
    // Listening first: a client gone while the accounts are looked up must not leave a
    // subscription and timers behind for good.
    let closed = false;
    let subscription: Subscription | undefined = undefined;
    const timers: NodeJS.Timeout[] = [];
    const close = () => {
      if (closed) return;
      closed = true;
      this.release(user.id, stream);
      subscription?.unsubscribe();
      timers.forEach((t) => clearInterval(t));
    };
    req.on('close', close);
    res.on('close', close);
    res.on('error', close);
    /** Says why in a last event (no id: nothing to resume), then ends the response. */
    const end = (reason: 'account_removed' | 'token_expired', detail: object = {}) => {
      if (closed) return;
      if (res.headersSent)
        res.write(`event: stream.end\ndata: ${JSON.stringify({ reason, ...detail })}\n\n`);
      close();
      res.end();
    };

    let accountIds: string[] = [];
    let owned = new Set<string>();
    // Accounts the caller lost while this stream is open. Their purge's deletions still reach it
    // (the client holds those DMs); nothing else of them does.
    const removed = new Set<string>();
    stream.accountRemoved = (accountId) => {
      removed.add(accountId);
      accountIds = accountIds.filter((id) => id !== accountId);
      owned.delete(accountId);
      if (accountId === opts.accountId && res.headersSent)
        end('account_removed', { platform_account_id: accountId });
    };

    try {
      accountIds = (await this.dmsService.scopeAccounts(user, opts.accountId)).filter(
        (id) => !removed.has(id),
      );
    } catch (error) {
      close();
      throw error;
    }
    owned = new Set(accountIds);
    if (closed || req.destroyed) return close();
    const parsed = parseEventId(opts.lastEventId);
    // An id from the future (a bad client, another instance's clock) would hide every change
    // until then from this stream's polls.
    const resumeFrom = parsed && parsed.t > Date.now() ? { t: Date.now(), key: '' } : parsed;

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    // Removed while its accounts were being looked up.
    if (opts.accountId && removed.has(opts.accountId))
      return end('account_removed', { platform_account_id: opts.accountId });

    let replaying = true;
    const buffered: StreamItem[] = [];
    const sent = new Set<string>();
    let cursor = resumeFrom ?? { t: Date.now(), key: '' };

    const visible = (item: StreamItem) =>
      owned.has(item.accountId) || (item.event === 'dm.deleted' && removed.has(item.accountId));
    const write = (item: StreamItem) => {
      if (closed || sent.has(item.id) || !visible(item)) return;
      sent.add(item.id);
      if (sent.size > 20_000) sent.clear();
      if (item.event === 'dm.deleted') {
        // A deletion cannot be replayed from the database, so it carries no id: neither this
        // cursor nor the client's Last-Event-ID moves past changes another instance wrote just
        // before it (a purge sends many at once).
        res.write(`event: ${item.event}\ndata: ${JSON.stringify(item.data)}\n\n`);
        return;
      }
      if (after(item, cursor)) cursor = { t: item.t, key: item.key };
      res.write(`id: ${item.id}\nevent: ${item.event}\ndata: ${JSON.stringify(item.data)}\n\n`);
      if (res.writableLength > MAX_UNSENT_BYTES) {
        this.logger.warn({ userId: user.id }, 'stream: client not reading, closed');
        close();
        res.destroy();
      }
    };

    // Subscribe before querying, so nothing written during the replay is lost; dedupe by id.
    const listeningSince = { t: Date.now(), key: '' };
    subscription = this.live.subscribe((item) => (replaying ? buffered.push(item) : write(item)));

    const max = this.options.replayMax;
    let resync = false;
    try {
      resync = !!resumeFrom && (await this.countSince(accountIds, resumeFrom, max + 1)) > max;
      let from = resync ? null : resumeFrom;
      let replayed = 0;
      while (from && !closed) {
        const { items, truncated } = await this.changedSince(accountIds, from);
        const room = max - replayed;
        items.slice(0, room).forEach(write);
        replayed += Math.min(items.length, room);
        // Past the bound (written meanwhile), or a page of one instant it cannot get past.
        if (items.length > room || (truncated && items.length === 0)) {
          resync = true;
          break;
        }
        from = truncated ? items[items.length - 1] : null;
      }
    } catch (error) {
      // Going live now would skip the rest: the client reconnects and resumes from its last id.
      this.logger.warn({ userId: user.id, err: (error as Error).name }, 'stream: replay failed');
      close();
      res.end();
      return;
    }
    if (closed) return;
    if (resync) {
      // The client reloads its lists instead; what changes from the moment this stream started
      // listening still comes here, and the id lets a reconnect resume from that moment.
      if (after(listeningSince, cursor)) cursor = listeningSince;
      const data = JSON.stringify({ reason: 'replay_limit', max_documents: max });
      res.write(`id: ${listeningSince.t}-0\nevent: resync\ndata: ${data}\n\n`);
      this.logger.log({ userId: user.id, max }, 'stream: resume past the replay bound, resync');
    }
    replaying = false;
    for (const item of buffered.splice(0)) write(item);
    if (closed) return;

    timers.push(
      setInterval(() => {
        if (closed) return;
        // Checked per heartbeat rather than by a timer at exp: precise enough, and no timer past
        // setTimeout's 24.8-day range.
        if (user.tokenExpiresAt !== undefined && Date.now() >= user.tokenExpiresAt)
          return end('token_expired');
        res.write(': ping\n\n');
      }, this.options.heartbeatMs),
    );
    // Accounts connected or removed while the stream is open (also by other instances, which
    // send no event here).
    timers.push(
      setInterval(() => {
        void this.dmsService
          .scopeAccounts(user, opts.accountId)
          .then((ids) => {
            accountIds = ids;
            owned = new Set(ids);
          })
          .catch((error: unknown) => {
            if (opts.accountId && error instanceof AppError && error.code === 'ACCOUNT_NOT_FOUND')
              end('account_removed', { platform_account_id: opts.accountId });
          });
      }, this.options.rescopeMs),
    );
    if (this.options.pollMs > 0) {
      let polling = false;
      timers.push(
        setInterval(() => {
          if (polling || closed) return;
          polling = true;
          this.changedSince(accountIds, cursor)
            .then(({ items }) => items.forEach(write))
            .catch(() => undefined)
            .finally(() => (polling = false));
        }, this.options.pollMs),
      );
    }
    this.logger.log({ userId: user.id, resumed: resumeFrom !== null, resync }, 'stream opened');
  }
}
