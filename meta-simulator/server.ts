import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cdn, type CdnStyle } from './cdn';
import type { AuthorizationDecision, FeatureLimits, SimContext } from './context';
import { handleControl } from './control';
import { Customer } from './customer';
import { GraphError } from './errors';
import { envelope, messageObject, messagingElement, type WebhookEvent } from './events';
import { FaultRegistry, type Endpoint, type Fault, type FaultSpec } from './faults';
import { GraphApi, type GraphReply, type GraphRequest } from './graph';
import { parseBody, queryOf, readBody, sleep, type Params } from './http-util';
import { newFbtraceId, randomDigits } from './ids';
import { handleAuthorize, handleCodeExchange, type OAuthReply } from './oauth';
import { RateLimiter, type Budget } from './ratelimit';
import { metaStringify } from './serialize';
import {
  SimClock,
  SimState,
  type Business,
  type CreateBusinessOptions,
  type CreateCustomerOptions,
  type MessageRecord,
  type TokenRecord,
} from './state';
import { buildTrigger, type TriggerKind, type TriggerOptions } from './triggers';
import {
  WebhookDispatcher,
  type DeliveryRecord,
  type DeliveryStatus,
  type DispatchOptions,
  type DropRule,
  type WaitMode,
} from './webhooks';

export interface MetaSimulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Instagram app secret: signs webhooks, checked on token exchange. */
  appSecret?: string;
  /** Instagram app id (numeric string). */
  clientId?: string;
  webhookUrl?: string;
  verifyToken?: string;
  /** Per-attempt webhook timeout; Meta documents "5 seconds or less". */
  deliveryTimeoutMs?: number;
  /** Delays before each retry of a failed delivery (first retry immediate, like Meta). */
  retryDelaysMs?: number[];
  /** 0 (default): the echo is POSTed before the Send API answers. >0: after the answer. */
  echoDelayMs?: number;
  /** With echoDelayMs 0, how long the Send API waits for the echo's first attempt. */
  echoWaitCapMs?: number;
  /** Added to every Graph/OAuth reply. */
  graphLatencyMs?: number;
  /** Lifetime of CDN URLs (simulated clock); default 1 h. */
  cdnTtlMs?: number;
  /** 'local' (default): fetchable URLs on this server; 'lookaside': lookaside.fbsbx.com look-alikes. */
  cdnStyle?: CdnStyle;
  limits?: Partial<FeatureLimits>;
  /** When set, /oauth/authorize only accepts these redirect URIs (exact match). */
  redirectUris?: string[];
  /** Treat any 2xx webhook answer as success; default only 200 (Meta documents `200 OK`). */
  accept2xx?: boolean;
  /** Model "Webhooks Disabled": unsubscribe the account when a delivery exhausts its retries. */
  unsubscribeOnExhaustedRetries?: boolean;
  /** Optional request log line (method, path without query, status, endpoint; never tokens or text). */
  log?: (line: string) => void;
}

export interface RequestRecord {
  id: number;
  at: number;
  method: string;
  host: 'graph' | 'api' | 'www' | 'cdn' | 'control' | 'unknown';
  /** Full path including the host prefix and version. */
  path: string;
  endpoint: Endpoint | 'control' | 'unknown';
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Parsed body (JSON, or form with JSON members decoded). */
  body: Params;
  accountIgId?: string;
  status?: number;
  /** Parsed JSON reply (undefined for HTML/binary/no reply). */
  response?: unknown;
  responseText?: string;
  responseHeaders?: Record<string, string>;
  durationMs?: number;
  /** What fault was applied, if any. */
  fault?: string;
}

export type RequestFilter =
  | ((r: RequestRecord) => boolean)
  | {
      endpoint?: RequestRecord['endpoint'];
      method?: string;
      host?: RequestRecord['host'];
      path?: string | RegExp;
      accountIgId?: string;
    };

export type DeliveryFilter =
  | ((d: DeliveryRecord) => boolean)
  | { kind?: string; entryId?: string; status?: DeliveryStatus; delivered?: boolean };

export interface SentMessage {
  mid: string;
  businessIgId: string;
  recipientId: string;
  text?: string;
  attachments: MessageRecord['attachments'];
  replyToMid?: string;
  tag?: string;
  via: 'send_api' | 'private_reply';
  commentId?: string;
  createdAt: number;
}

export interface TriggerResultWithDelivery {
  kind: TriggerKind;
  mid?: string;
  delivery: DeliveryRecord;
}

export interface DeliverOptions extends DispatchOptions {
  wait?: WaitMode;
}

const DEFAULT_LIMITS: FeatureLimits = {
  sendPerSecond: 100,
  mediaSendPerSecond: 10,
  conversationsPerSecond: 2,
  privateRepliesPerHour: 750,
};

export class MetaSimulator implements SimContext {
  readonly clock = new SimClock();
  readonly state = new SimState(this.clock);
  readonly limiter = new RateLimiter();
  readonly cdn: Cdn;
  readonly clientId: string;
  readonly limits: FeatureLimits;
  readonly redirectUris?: string[];
  readonly authorizations: AuthorizationDecision[] = [];
  readonly verifyToken: string;

  private readonly server: http.Server;
  private readonly dispatcher: WebhookDispatcher;
  private readonly faults = new FaultRegistry();
  private readonly graph = new GraphApi(this);
  private readonly requestLog: RequestRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly customers = new Map<string, Customer>();
  private webhookUrl?: string;
  private baseUrl = '';
  private requestSeq = 0;
  private collector?: { events: WebhookEvent[]; kinds: Set<string>; shell: DeliveryRecord };
  private closed = false;
  private secret: string;

  constructor(private readonly opts: MetaSimulatorOptions = {}) {
    this.clientId = opts.clientId ?? '1234567890123456';
    this.secret = opts.appSecret ?? 'sim-app-secret';
    this.verifyToken = opts.verifyToken ?? 'sim-verify-token';
    this.webhookUrl = opts.webhookUrl;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.redirectUris = opts.redirectUris;
    this.cdn = new Cdn(this.clock, {
      baseUrl: () => this.baseUrl,
      ttlMs: opts.cdnTtlMs ?? 3_600_000,
      style: opts.cdnStyle ?? 'local',
    });
    this.dispatcher = new WebhookDispatcher({
      secret: this.secret,
      url: () => this.webhookUrl,
      timeoutMs: opts.deliveryTimeoutMs ?? 5000,
      retryDelaysMs: opts.retryDelaysMs ?? [0, 10_000, 60_000, 300_000, 900_000],
      accept2xx: !!opts.accept2xx,
      onExhausted: (rec) => {
        if (!opts.unsubscribeOnExhaustedRetries) return;
        for (const id of rec.entryIds) {
          const biz = this.state.businesses.get(id);
          if (biz) biz.subscribedFields = [];
        }
      },
    });
    this.server = http.createServer((req, res) => {
      this.onRequest(req, res).catch((e: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(e instanceof Error ? e.message : 'internal error');
        }
      });
    });
    this.server.keepAliveTimeout = 5000;
  }

  /** @internal use startMetaSimulator */
  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://${host}:${port}`;
  }

  // ---------------------------------------------------------------- URLs

  /** Instagram app secret (webhook signing key, checked by the token endpoints). */
  get appSecret(): string {
    return this.secret;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  /** http://127.0.0.1:PORT */
  get url(): string {
    return this.baseUrl;
  }
  /** graph.instagram.com stand-in, without version (accepts `/vNN.N/…` and unversioned paths). */
  get graphUrl(): string {
    return `${this.baseUrl}/graph`;
  }
  /** api.instagram.com stand-in (POST /oauth/access_token). */
  get apiUrl(): string {
    return `${this.baseUrl}/api`;
  }
  /** www.instagram.com stand-in (GET /oauth/authorize). */
  get wwwUrl(): string {
    return `${this.baseUrl}/www`;
  }

  /** Builds the authorize URL igdm would redirect a browser to. */
  authorizeUrl(p: {
    redirectUri: string;
    scope?: string[];
    state?: string;
    clientId?: string;
  }): string {
    const q = new URLSearchParams({
      client_id: p.clientId ?? this.clientId,
      redirect_uri: p.redirectUri,
      response_type: 'code',
      scope: (p.scope ?? ['instagram_business_basic', 'instagram_business_manage_messages']).join(
        ',',
      ),
    });
    if (p.state !== undefined) q.set('state', p.state);
    return `${this.wwwUrl}/oauth/authorize?${q.toString()}`;
  }

  // ---------------------------------------------------------------- actors

  createBusiness(opts: CreateBusinessOptions = {}): Business {
    return this.state.createBusiness(opts);
  }

  /** A simulated Instagram user of `biz` (IGSIDs are scoped per business account). */
  customer(biz: Business, opts: CreateCustomerOptions = {}): Customer {
    const rec = this.state.createCustomer(biz, opts);
    const c = new Customer(this, biz, rec);
    this.customers.set(`${biz.igId}:${rec.igsid}`, c);
    return c;
  }

  /**
   * Two businesses that message each other (an agency's clients, a shop and its supplier): each
   * appears to the other as a customer with its own IGSID, and a message one sends through the
   * Send API reaches the other as an inbound message **with the same mid**, as on Instagram.
   */
  connectBusinesses(a: Business, b: Business): { bAsSeenByA: Customer; aAsSeenByB: Customer } {
    const bAsSeenByA = this.customer(a, { username: b.username, name: b.name });
    const aAsSeenByB = this.customer(b, { username: a.username, name: a.name });
    this.state.businessLinks.set(`${a.igId}:${bAsSeenByA.igsid}`, {
      businessIgId: b.igId,
      igsid: aAsSeenByB.igsid,
    });
    this.state.businessLinks.set(`${b.igId}:${aAsSeenByB.igsid}`, {
      businessIgId: a.igId,
      igsid: bAsSeenByA.igsid,
    });
    return { bAsSeenByA, aAsSeenByB };
  }

  /** The other business's inbound copy of a message sent to a linked business, if any. */
  private relayToLinkedBusiness(m: MessageRecord): void {
    const link = this.state.businessLinks.get(`${m.businessIgId}:${m.toId}`);
    if (!link || m.direction !== 'outbound') return;
    const sender = this.state.customer(link.businessIgId, link.igsid);
    if (!sender) return;
    const thread = this.state.threadFor(link.businessIgId, link.igsid);
    const copy = this.state.addMessage(
      thread,
      {
        text: m.text,
        attachments: m.attachments,
        direction: 'inbound',
        fromId: link.igsid,
        toId: link.businessIgId,
        via: 'customer',
        createdAt: m.createdAt,
      },
      m.mid,
    );
    sender.lastUserMessageAt = Math.max(sender.lastUserMessageAt ?? 0, copy.createdAt);
    sender.consent = true;
    const event: WebhookEvent = {
      entryId: link.businessIgId,
      container: 'messaging',
      event: messagingElement(
        link.igsid,
        link.businessIgId,
        copy.createdAt,
        'message',
        messageObject(copy, (id) => this.cdn.url(id)),
      ),
      field: 'messages',
      at: copy.createdAt,
    };
    void this.emit([event], 'text');
  }

  /** @internal */
  findCustomer(igsid: string): Customer | undefined {
    for (const [key, c] of this.customers) if (key.endsWith(`:${igsid}`)) return c;
    return undefined;
  }

  // ---------------------------------------------------------------- webhooks

  setWebhookUrl(url: string | undefined): void {
    this.webhookUrl = url;
  }

  getWebhookUrl(): string | undefined {
    return this.webhookUrl;
  }

  /** Meta's GET verification handshake against the webhook URL. */
  async verifyWebhook(opts: { url?: string; verifyToken?: string } = {}): Promise<{
    status: number;
    body: string;
    ok: boolean;
  }> {
    const url = opts.url ?? this.webhookUrl;
    if (!url) throw new Error('no webhook URL');
    const challenge = randomDigits(10).replace(/^0/, '1');
    const target = new URL(url);
    target.searchParams.set('hub.mode', 'subscribe');
    target.searchParams.set('hub.verify_token', opts.verifyToken ?? this.verifyToken);
    target.searchParams.set('hub.challenge', challenge);
    const res = await fetch(target, {
      headers: { 'User-Agent': 'facebookplatform/1.0 (+http://developers.facebook.com)' },
    });
    const body = await res.text();
    return { status: res.status, body, ok: res.status === 200 && body === challenge };
  }

  /** Signs and POSTs an arbitrary body (object → Meta serialisation; string → sent verbatim). */
  deliver(body: object | string, opts: DeliverOptions = {}): Promise<DeliveryRecord> {
    const rec = this.dispatcher.dispatch(body, opts);
    return this.dispatcher.wait(rec, opts.wait ?? 'final');
  }

  /**
   * One delivery carrying several events: pass WebhookEvents, or a function whose customer
   * actions are collected instead of being delivered one by one.
   */
  async batch(
    input: WebhookEvent[] | (() => unknown),
    opts: { wait?: WaitMode } = {},
  ): Promise<DeliveryRecord> {
    let events: WebhookEvent[];
    let shell: DeliveryRecord | undefined;
    if (Array.isArray(input)) {
      events = input;
    } else {
      if (this.collector) throw new Error('batch() calls cannot be nested');
      const col = {
        events: [] as WebhookEvent[],
        kinds: new Set<string>(),
        shell: this.dispatcher.shell('batch'),
      };
      this.collector = col;
      try {
        await input();
      } finally {
        this.collector = undefined;
      }
      events = col.events;
      shell = col.shell;
    }
    const rec = this.emitNow(events, 'batch', shell);
    return this.dispatcher.wait(rec, opts.wait ?? 'final');
  }

  /** Fires one realistic delivery of a named kind with fresh ids (no state change). */
  async trigger(
    kind: TriggerKind,
    overrides: TriggerOptions & { business?: Business; wait?: WaitMode } = {},
  ): Promise<TriggerResultWithDelivery> {
    const biz = overrides.business ?? [...this.state.businesses.values()][0];
    const accountId = overrides.accountId ?? biz?.igId;
    const customerId =
      overrides.customerId ??
      [...this.state.customers.values()].find((c) => c.businessIgId === accountId)?.igsid;
    const t = buildTrigger(kind, {
      ...overrides,
      accountId,
      customerId,
      mediaUrl: (type) => this.cdn.url(this.cdn.createAsset(type).id),
    });
    const rec = this.dispatcher.dispatch(t.body, { kind });
    return {
      kind,
      mid: t.mid,
      delivery: await this.dispatcher.wait(rec, overrides.wait ?? 'final'),
    };
  }

  /** Chosen deliveries are never sent (gaps for reconciliation tests); state is unaffected. */
  dropDeliveries(opts: { count?: number; predicate?: (d: DeliveryRecord) => boolean } = {}): {
    clear(): void;
    readonly remaining: number;
  } {
    const rule: DropRule = this.dispatcher.addDropRule({
      remaining: opts.count ?? Infinity,
      predicate: opts.predicate,
    });
    return {
      clear: () => this.dispatcher.removeDropRule(rule),
      get remaining() {
        return rule.remaining;
      },
    };
  }

  clearDrops(): void {
    this.dispatcher.clearDropRules();
  }

  /** @internal SimContext: subscription-gated delivery of state-driven events. */
  emit(events: WebhookEvent[], kind: string): DeliveryRecord {
    if (this.collector) {
      this.collector.events.push(...events);
      this.collector.kinds.add(kind);
      return this.collector.shell;
    }
    return this.emitNow(events, kind);
  }

  /** @internal CustomerHost */
  deliverEvents(
    events: WebhookEvent[],
    kind: string,
    wait: WaitMode | undefined,
  ): Promise<DeliveryRecord> {
    const rec = this.emit(events, kind);
    if (this.collector) return Promise.resolve(rec);
    return this.dispatcher.wait(rec, wait ?? 'final');
  }

  private emitNow(events: WebhookEvent[], kind: string, shell?: DeliveryRecord): DeliveryRecord {
    const now = this.clock.now();
    const allowed = events.filter((e) => this.isSubscribed(e.entryId, e.field));
    if (!allowed.length) {
      const e = events[0];
      const reason = e
        ? `account ${e.entryId} is not subscribed to ${e.field} (or the field is not enabled on the app)`
        : 'no events';
      return this.dispatcher.dispatch(envelope(events, now), { kind, skipReason: reason, shell });
    }
    return this.dispatcher.dispatch(envelope(allowed, now), { kind, shell });
  }

  private isSubscribed(entryId: string, field: string): boolean {
    const biz = this.state.businesses.get(entryId);
    if (!biz) return true;
    return biz.subscribedFields.includes(field) && this.state.appFields.includes(field);
  }

  /** @internal SimContext: the is_echo webhook for a message the business sent. */
  async echo(m: MessageRecord): Promise<void> {
    this.relayToLinkedBusiness(m);
    const events: WebhookEvent[] = [
      {
        entryId: m.businessIgId,
        container: 'messaging',
        event: messagingElement(
          m.fromId,
          m.toId,
          m.createdAt,
          'message',
          messageObject(m, (id) => this.cdn.url(id)),
        ),
        field: 'messages',
        at: m.createdAt,
      },
    ];
    const kind = m.attachments.length ? 'echo-attachment' : 'echo';
    const delay = this.opts.echoDelayMs ?? 0;
    if (delay > 0) {
      this.later(delay, () => void this.emit(events, kind));
      return;
    }
    // Meta can deliver the echo before the Send API answers; wait for its first attempt (capped)
    // so a receiver reliably sees that order.
    const rec = this.emit(events, kind);
    if (this.collector) return;
    await Promise.race([
      this.dispatcher.wait(rec, 'first-attempt'),
      sleep(this.opts.echoWaitCapMs ?? 1000),
    ]);
  }

  // ---------------------------------------------------------------- subscriptions, tokens, limits

  /** App-level webhook fields (dashboard ticks); others are dropped from subscribed_apps POSTs. */
  setAppFields(fields: string[]): void {
    this.state.appFields = [...fields];
    for (const biz of this.state.businesses.values()) {
      biz.subscribedFields = biz.subscribedFields.filter((f) => fields.includes(f));
    }
  }

  /** Silently changes an account's subscription (Meta dropping fields or disabling webhooks). */
  driftSubscription(biz: Business | string, fields: string[]): void {
    const b = this.businessOf(biz);
    b.subscribedFields = [...fields];
  }

  /** Rotates the Instagram app secret: new deliveries are signed with it, exchanges check it. */
  setAppSecret(secret: string): void {
    this.secret = secret;
    this.dispatcher.setSecret(secret);
  }

  invalidateToken(tokenOrBiz: string | Business, subcode = 467): void {
    this.tokenOf(tokenOrBiz).invalidatedSubcode = subcode;
  }

  setPermissions(tokenOrBiz: string | Business, permissions: string[]): void {
    const tok = this.tokenOf(tokenOrBiz);
    tok.permissions = [...permissions];
    this.state.adoptToken(tok);
  }

  /** Moves a token's creation/expiry (e.g. make it older than 24 h so it can be refreshed). */
  setTokenTimes(
    tokenOrBiz: string | Business,
    times: { createdAt?: number; expiresAt?: number },
  ): void {
    const tok = this.tokenOf(tokenOrBiz);
    if (times.createdAt !== undefined) tok.createdAt = times.createdAt;
    if (times.expiresAt !== undefined) tok.expiresAt = times.expiresAt;
    const biz = this.state.businesses.get(tok.igId);
    if (biz?.accessToken === tok.token) this.state.adoptToken(tok);
  }

  token(token: string): TokenRecord | undefined {
    return this.state.tokens.get(token);
  }

  /** Per-account call budget → 613/2534040 (or the given code) past it, usage headers near 100. */
  setRateLimit(biz: Business | string, budget: Budget | undefined): void {
    this.limiter.setAccountBudget(this.businessOf(biz).igId, budget);
  }

  /** App-level budget → code 4 past it; drives X-App-Usage. */
  setAppRateLimit(budget: Budget | undefined): void {
    this.limiter.setAppBudget(budget);
  }

  nextAuthorization(decision: AuthorizationDecision): void {
    this.authorizations.push(decision);
  }

  advanceClock(ms: number): void {
    this.clock.advance(ms);
  }

  now(): number {
    return this.clock.now();
  }

  // ---------------------------------------------------------------- faults

  fault(spec: FaultSpec): Fault {
    return this.faults.add(spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  activeFaults(): Fault[] {
    return this.faults.list();
  }

  // ---------------------------------------------------------------- inspection

  requests(filter?: RequestFilter): RequestRecord[] {
    if (!filter) return [...this.requestLog];
    if (typeof filter === 'function') return this.requestLog.filter(filter);
    return this.requestLog.filter(
      (r) =>
        (!filter.endpoint || r.endpoint === filter.endpoint) &&
        (!filter.method || r.method === filter.method.toUpperCase()) &&
        (!filter.host || r.host === filter.host) &&
        (!filter.accountIgId || r.accountIgId === filter.accountIgId) &&
        (!filter.path ||
          (typeof filter.path === 'string'
            ? r.path.includes(filter.path)
            : filter.path.test(r.path))),
    );
  }

  deliveries(filter?: DeliveryFilter): DeliveryRecord[] {
    const all = this.dispatcher.records;
    if (!filter) return [...all];
    if (typeof filter === 'function') return all.filter(filter);
    return all.filter(
      (d) =>
        (!filter.kind || d.kind === filter.kind) &&
        (!filter.entryId || d.entryIds.includes(filter.entryId)) &&
        (!filter.status || d.status === filter.status) &&
        (filter.delivered === undefined || d.delivered === filter.delivered),
    );
  }

  /** Messages the business sent through the Send API (incl. private replies). */
  sent(biz?: Business | string): SentMessage[] {
    const igId = biz === undefined ? undefined : this.businessOf(biz).igId;
    return [...this.state.messages.values()]
      .filter(
        (m) =>
          (m.via === 'send_api' || m.via === 'private_reply') && (!igId || m.businessIgId === igId),
      )
      .map((m) => ({
        mid: m.mid,
        businessIgId: m.businessIgId,
        recipientId: m.toId,
        text: m.text,
        attachments: m.attachments,
        replyToMid: m.replyToMid,
        tag: m.tag,
        via: m.via as SentMessage['via'],
        commentId: m.commentId,
        createdAt: m.createdAt,
      }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dispatcher.close();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------- HTTP

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  private businessOf(biz: Business | string): Business {
    const b = typeof biz === 'string' ? this.state.businesses.get(biz) : biz;
    if (!b) throw new Error(`unknown business ${typeof biz === 'string' ? biz : biz.igId}`);
    return b;
  }

  private tokenOf(tokenOrBiz: string | Business): TokenRecord {
    const token = typeof tokenOrBiz === 'string' ? tokenOrBiz : tokenOrBiz.accessToken;
    const tok = this.state.tokens.get(token);
    if (!tok) throw new Error('unknown token');
    return tok;
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://sim.local');
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const raw = await readBody(req);
    const query = queryOf(url);
    const body = parseBody(raw, req.headers['content-type']);
    const prefix = segments.shift();
    const host: RequestRecord['host'] =
      prefix === 'graph' || prefix === 'api' || prefix === 'www' || prefix === 'cdn'
        ? prefix
        : prefix === '_sim'
          ? 'control'
          : 'unknown';
    const rec: RequestRecord = {
      id: ++this.requestSeq,
      at: Date.now(),
      method: req.method ?? 'GET',
      host,
      path: url.pathname,
      endpoint: host === 'control' ? 'control' : 'unknown',
      query,
      headers: req.headers,
      body,
    };
    // Control calls are the test harness talking, not igdm: keep them out of requests().
    if (host !== 'control') this.requestLog.push(rec);
    const finish = (
      status: number,
      headers: Record<string, string>,
      text: string | Buffer,
    ): void => {
      rec.status = status;
      rec.responseHeaders = headers;
      rec.durationMs = Math.round((performance.now() - started) * 10) / 10;
      if (typeof text === 'string') {
        rec.responseText = text;
        if ((headers['content-type'] ?? '').includes('json')) {
          try {
            rec.response = JSON.parse(text);
          } catch {
            rec.response = undefined;
          }
        }
      }
      if (!res.writableEnded && !res.destroyed) {
        res.writeHead(status, headers);
        res.end(text);
      }
      this.opts.log?.(
        `${rec.method} ${rec.path} ${status} ${rec.endpoint}${rec.fault ? ` fault=${rec.fault}` : ''}`,
      );
    };

    if (host === 'control') {
      const r = await handleControl(this, req.method ?? 'GET', segments, query, body);
      finish(
        r.status,
        { 'content-type': 'application/json; charset=UTF-8' },
        metaStringify(r.body),
      );
      return;
    }
    if (host === 'cdn') {
      rec.endpoint = 'cdn';
      if (await this.applyFault(rec, res, 'cdn', undefined, finish)) return;
      const r = this.cdn.handle(query);
      finish(r.status, r.headers, r.body);
      return;
    }
    if (host === 'www' && segments.join('/') === 'oauth/authorize' && rec.method === 'GET') {
      rec.endpoint = 'authorize';
      if (await this.applyFault(rec, res, 'authorize', undefined, finish)) return;
      const r = handleAuthorize(this, query);
      finish(r.status, r.headers, r.body);
      return;
    }
    if (host === 'api' && segments.join('/') === 'oauth/access_token' && rec.method === 'POST') {
      rec.endpoint = 'token';
      if (await this.applyFault(rec, res, 'token', undefined, finish, true)) return;
      await this.graphLatency();
      const r: OAuthReply = handleCodeExchange(this, body);
      finish(r.status, r.headers, r.body);
      return;
    }
    if (host !== 'graph') {
      finish(
        404,
        { 'content-type': 'application/json; charset=UTF-8' },
        metaStringify({ error: 'not found' }),
      );
      return;
    }

    const version = segments[0] && /^v\d+\.\d+$/.test(segments[0]) ? segments.shift() : undefined;
    const auth = req.headers.authorization;
    const bearer =
      auth && /^(Bearer|OAuth)\s+/i.test(auth) ? auth.replace(/^\S+\s+/, '').trim() : undefined;
    const bodyToken = typeof body.access_token === 'string' ? body.access_token : undefined;
    const greq: GraphRequest = {
      method: rec.method,
      segments,
      version,
      query,
      params: { ...query, ...body },
      token: bearer ?? query.access_token ?? bodyToken,
    };
    const endpoint = this.graph.classify(greq);
    rec.endpoint = endpoint;
    rec.accountIgId = this.graph.tokenAccount(greq);
    if (await this.applyFault(rec, res, endpoint, rec.accountIgId, finish)) return;
    await this.graphLatency();

    const fbtrace = newFbtraceId();
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=UTF-8',
      'facebook-api-version': version ?? 'v24.0',
      'x-fb-trace-id': fbtrace,
      'x-fb-request-id': newFbtraceId(),
      'x-fb-rev': '1024300000',
    };
    let reply: GraphReply;
    try {
      reply = await this.graph.handle(greq, headers);
    } catch (e: unknown) {
      if (!(e instanceof GraphError)) throw e;
      reply = { status: e.httpStatus, body: e.toBody(fbtrace), headers: e.headers };
    }
    finish(reply.status, { ...headers, ...reply.headers }, metaStringify(reply.body));
  }

  private async graphLatency(): Promise<void> {
    const ms = this.opts.graphLatencyMs ?? 0;
    if (ms > 0) await sleep(ms);
  }

  /** Applies a matching fault. Returns true when the fault answered (or hung up) for us. */
  private async applyFault(
    rec: RequestRecord,
    res: http.ServerResponse,
    endpoint: Endpoint,
    account: string | undefined,
    finish: (status: number, headers: Record<string, string>, text: string) => void,
    oauthEnvelope = false,
  ): Promise<boolean> {
    const fault = this.faults.take(endpoint, account);
    if (!fault) return false;
    const what: string[] = [];
    if (fault.latencyMs) {
      what.push(`latency ${fault.latencyMs}ms`);
      await sleep(fault.latencyMs);
    }
    const json = { 'content-type': 'application/json; charset=UTF-8' };
    const fbtrace = newFbtraceId();
    if (fault.dropConnection) {
      rec.fault = [...what, 'dropConnection'].join(', ');
      res.socket?.destroy();
      return true;
    }
    if (fault.timeout) {
      rec.fault = [...what, 'timeout'].join(', ');
      // Hang: never answer; hang up after hangMs (or when the simulator closes).
      this.later(fault.hangMs ?? 60_000, () => res.socket?.destroy());
      return true;
    }
    if (fault.status5xx) {
      rec.fault = [...what, `status ${fault.status5xx}`].join(', ');
      const err = new GraphError({
        code: fault.status5xx === 503 ? 2 : 1,
        message: 'An unexpected error has occurred. Please retry your request later.',
        isTransient: true,
      });
      finish(fault.status5xx, json, metaStringify(err.toBody(fbtrace)));
      return true;
    }
    if (fault.metaError) {
      rec.fault = [...what, `metaError ${fault.metaError.code}`].join(', ');
      const spec = fault.metaError;
      if (oauthEnvelope) {
        const body = {
          error_type: spec.type ?? 'OAuthException',
          code: spec.code,
          error_message: spec.message ?? 'Error',
        };
        finish(spec.httpStatus ?? 400, json, metaStringify(body));
        return true;
      }
      const err = new GraphError({ ...spec });
      finish(
        err.httpStatus,
        { ...json, 'x-fb-trace-id': fbtrace },
        metaStringify(err.toBody(fbtrace)),
      );
      return true;
    }
    rec.fault = what.join(', ');
    return false;
  }
}

export async function startMetaSimulator(opts: MetaSimulatorOptions = {}): Promise<MetaSimulator> {
  const sim = new MetaSimulator(opts);
  await sim.listen();
  return sim;
}
