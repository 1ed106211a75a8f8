import type { SimContext } from './context';
import { errors, GraphError } from './errors';
import { commentChange } from './events';
import type { Endpoint } from './faults';
import { graphTime, parseFields, type FieldSpec, type Params } from './http-util';
import {
  decodeConversationId,
  decodeMid,
  metaEscapeBase64,
  metaUnescapeBase64,
  newCommentId,
} from './ids';
import {
  DAY_MS,
  KNOWN_FIELDS,
  SIXTY_DAYS_S,
  type AttachmentRecord,
  type Business,
  type CustomerRecord,
  type MessageRecord,
  type Thread,
  type TokenRecord,
} from './state';

/**
 * graph.instagram.com stand-in: Send API, profile, message and conversation reads, webhook
 * subscription, token exchange/refresh — with Meta's reply shapes, rules and error codes.
 */

export interface GraphRequest {
  method: string;
  /** Path segments after the host prefix and the optional `vNN.N`. */
  segments: string[];
  version?: string;
  query: Record<string, string>;
  /** Query and body merged (body wins), JSON members decoded. */
  params: Params;
  token?: string;
}

export interface GraphReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const MANAGE_MESSAGES = 'instagram_business_manage_messages';
const MANAGE_COMMENTS = 'instagram_business_manage_comments';
const MEDIA_TYPES = new Set(['image', 'video', 'audio', 'file']);
const SEND_TYPES = new Set([
  'image',
  'video',
  'audio',
  'file',
  'like_heart',
  'media_share',
  'template',
]);
/** Only the N most recent messages of a conversation can be read (graph-api.md §5). */
const READABLE_MESSAGES = 20;

type Authed = { tok: TokenRecord; biz: Business };

export class GraphApi {
  constructor(private readonly ctx: SimContext) {}

  classify(req: GraphRequest): Endpoint {
    const [first, edge] = req.segments;
    if (!first) return 'other';
    if (req.segments.length === 1) {
      if (first === 'access_token') return 'token';
      if (first === 'refresh_access_token') return 'refresh';
      if (first === 'me' || this.ctx.state.businesses.has(first)) return 'me';
      if (decodeMid(first)) return 'message';
      if (decodeConversationId(first)) return 'conversations';
      if (this.ctx.state.comments.has(first)) return 'comments';
      if (this.ctx.state.media.has(first)) return 'media';
      return 'profile';
    }
    if (edge === 'messages') return req.method === 'POST' ? 'send' : 'conversations';
    if (edge === 'conversations') return 'conversations';
    if (edge === 'subscribed_apps') return 'subscribed_apps';
    if (edge === 'replies') return 'comments';
    return 'other';
  }

  /** Account a request's token belongs to, without validating it (fault targeting). */
  tokenAccount(req: GraphRequest): string | undefined {
    return req.token ? this.ctx.state.tokens.get(req.token)?.igId : undefined;
  }

  async handle(req: GraphRequest, headers: Record<string, string>): Promise<GraphReply> {
    const { method, segments } = req;
    const [first, edge, ...rest] = segments;
    if (rest.length || !first) throw errors.unknownPath(`/${segments.join('/')}`);

    if (!edge && first === 'access_token' && method === 'GET') return this.exchangeToken(req);
    if (!edge && first === 'refresh_access_token' && method === 'GET')
      return this.refreshToken(req);

    const a = this.auth(req, headers);
    if (!edge) {
      if (first === 'me' || first === a.biz.igId) return this.accountNode(req, a);
      const mid = decodeMid(first);
      if (mid) return this.messageNode(req, a, first);
      if (decodeConversationId(first)) return this.conversationNode(req, a, first);
      if (this.ctx.state.comments.has(first)) return this.commentNode(req, a, first);
      if (this.ctx.state.media.has(first)) return this.mediaNode(req, a, first);
      if (method === 'GET') return this.profile(req, a, first);
      throw errors.unknownObject(first, method);
    }
    if (edge === 'messages' && method === 'POST') return this.send(req, a, first);
    if (edge === 'messages' && method === 'GET' && decodeConversationId(first)) {
      return this.conversationMessagesEdge(req, a, first);
    }
    if (edge === 'conversations' && method === 'GET') return this.conversations(req, a, first);
    if (edge === 'subscribed_apps') return this.subscribedApps(req, a, first);
    if (edge === 'replies' && method === 'POST') return this.commentReply(req, a, first);
    throw errors.unknownPath(`/${segments.join('/')}`);
  }

  // ---------------------------------------------------------------- auth

  private auth(req: GraphRequest, headers: Record<string, string>): Authed {
    const { state, clock, limiter } = this.ctx;
    if (!req.token) throw errors.noToken();
    const tok = this.validToken(req.token);
    const biz = state.businesses.get(tok.igId);
    if (!biz) throw errors.badToken();
    const now = clock.now();
    const code = limiter.admit(biz.igId, now);
    Object.assign(headers, limiter.headers(biz.igId, now));
    if (code) throw errors.rateLimited(code);
    return { tok, biz };
  }

  private validToken(token: string): TokenRecord {
    const tok = this.ctx.state.tokens.get(token);
    if (!tok) throw errors.badToken();
    if (tok.invalidatedSubcode) throw errors.invalidatedToken(tok.invalidatedSubcode);
    const now = this.ctx.clock.now();
    if (now >= tok.expiresAt) throw errors.expiredToken(tok.expiresAt, now);
    return tok;
  }

  private requirePermission(a: Authed, perm: string, kind: 'send' | 'read'): void {
    if (a.tok.permissions.includes(perm)) return;
    throw kind === 'send' ? errors.sendPermission() : errors.readPermission(perm);
  }

  private account(a: Authed, id: string, method: string): Business {
    if (id === 'me' || id === a.biz.igId) return a.biz;
    throw errors.unknownObject(id, method);
  }

  // ---------------------------------------------------------------- tokens

  private exchangeToken(req: GraphRequest): GraphReply {
    const p = req.params;
    if (p.grant_type !== 'ig_exchange_token') {
      throw errors.param('Invalid grant_type: expected ig_exchange_token');
    }
    if (p.client_secret !== this.ctx.appSecret) {
      throw new GraphError({ code: 101, message: 'Error validating client secret.' });
    }
    const token = typeof p.access_token === 'string' ? p.access_token : req.token;
    if (!token) throw errors.noToken();
    const old = this.validToken(token);
    const rec = this.ctx.state.issueToken(old.igId, 'long', old.permissions);
    this.ctx.state.adoptToken(rec);
    return ok({ access_token: rec.token, token_type: 'bearer', expires_in: SIXTY_DAYS_S });
  }

  private refreshToken(req: GraphRequest): GraphReply {
    const p = req.params;
    if (p.grant_type !== 'ig_refresh_token') {
      throw errors.param('Invalid grant_type: expected ig_refresh_token');
    }
    const token = typeof p.access_token === 'string' ? p.access_token : req.token;
    if (!token) throw errors.noToken();
    const old = this.validToken(token);
    const now = this.ctx.clock.now();
    if (old.kind !== 'long' || now - old.createdAt < DAY_MS) {
      throw new GraphError({
        code: 190,
        message:
          'Error validating access token: only long-lived tokens that are at least 24 hours old can be refreshed.',
      });
    }
    const rec = this.ctx.state.issueToken(old.igId, 'long', old.permissions);
    old.refreshedInto = rec.token;
    this.ctx.state.adoptToken(rec);
    return ok({ access_token: rec.token, token_type: 'bearer', expires_in: SIXTY_DAYS_S });
  }

  // ---------------------------------------------------------------- nodes

  private accountNode(req: GraphRequest, a: Authed): GraphReply {
    if (req.method !== 'GET') throw errors.unknownObject(req.segments[0], req.method);
    const b = a.biz;
    const values: Record<string, unknown> = {
      id: b.appScopedId,
      user_id: b.igId,
      username: b.username,
      name: b.name,
      account_type: b.accountType,
      profile_picture_url: b.profilePictureUrl,
      followers_count: b.followersCount,
      follows_count: b.followsCount,
      media_count: b.mediaCount,
    };
    return ok(pick(values, fieldNames(req, ['id']), 'User'));
  }

  private profile(req: GraphRequest, a: Authed, igsid: string): GraphReply {
    const c = this.ctx.state.customer(a.biz.igId, igsid);
    if (!c) throw errors.unknownObject(igsid, req.method);
    this.requirePermission(a, MANAGE_MESSAGES, 'read');
    if (!c.consent) throw errors.consent();
    const values: Record<string, unknown> = {
      id: c.igsid,
      name: c.name,
      username: c.username,
      profile_pic: c.profilePic,
      follower_count: c.followerCount,
      is_user_follow_business: c.isUserFollowBusiness,
      is_business_follow_user: c.isBusinessFollowUser,
      is_verified_user: c.isVerifiedUser,
    };
    return ok(pick(values, fieldNames(req, ['id']), 'User'));
  }

  private messageNode(req: GraphRequest, a: Authed, mid: string): GraphReply {
    if (req.method !== 'GET') throw errors.unknownObject(mid, req.method);
    this.requirePermission(a, MANAGE_MESSAGES, 'read');
    const m = this.ctx.state.messages.get(mid);
    if (!m || m.businessIgId !== a.biz.igId) throw errors.unknownObject(mid, req.method);
    if (!this.readable(m)) throw errors.messageGone();
    const fields = parseFields(req.query.fields);
    return ok(
      this.renderMessage(m, fields.length ? fields : [{ name: 'id' }, { name: 'created_time' }]),
    );
  }

  /** Unsent messages and anything older than the 20 most recent are gone for the API. */
  private readable(m: MessageRecord): boolean {
    if (m.deleted) return false;
    const thread = this.ctx.state.threads.get(m.threadId);
    const visible = (thread?.messages ?? []).filter((x) => !x.deleted);
    return visible.slice(-READABLE_MESSAGES).includes(m);
  }

  private renderMessage(m: MessageRecord, fields: FieldSpec[]): Record<string, unknown> {
    const { state } = this.ctx;
    const biz = state.businesses.get(m.businessIgId);
    const cust = state.customer(m.businessIgId, m.customerIgsid);
    const party = (id: string): Record<string, unknown> =>
      id === biz?.igId
        ? { username: biz.username, id: biz.igId }
        : { username: cust?.username ?? '', id };
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      switch (f.name) {
        case 'id':
          out.id = m.mid;
          break;
        case 'created_time':
          out.created_time = graphTime(m.createdAt);
          break;
        case 'from':
          out.from = party(m.fromId);
          break;
        case 'to':
          out.to = { data: [party(m.toId)] };
          break;
        case 'message':
          out.message = m.text ?? '';
          break;
        case 'attachments': {
          const data = m.attachments
            .filter((x) => MEDIA_TYPES.has(x.type))
            .map((x) => this.renderAttachment(x));
          if (data.length) out.attachments = { data };
          break;
        }
        case 'shares': {
          const data = m.attachments
            .filter((x) => ['share', 'ig_post', 'ig_reel'].includes(x.type))
            .map((x) => ({
              link: x.assetId ? this.ctx.cdn.url(x.assetId) : x.sourceUrl,
              name: x.title,
            }));
          if (data.length) out.shares = { data };
          break;
        }
        case 'story': {
          const mention = m.attachments.find((x) => x.type === 'story_mention');
          if (mention?.assetId) {
            out.story = {
              mention: { link: this.ctx.cdn.url(mention.assetId), id: mention.mediaId },
            };
          } else if (m.replyToStory) {
            const { id, assetId } = m.replyToStory;
            out.story = { reply_to: { link: this.ctx.cdn.url(assetId), id } };
          }
          break;
        }
        case 'reactions': {
          const data: unknown[] = [];
          if (m.reactions.customer)
            data.push({ reaction: m.reactions.customer, users: [party(m.customerIgsid)] });
          if (m.reactions.business)
            data.push({ reaction: m.reactions.business, users: [party(m.businessIgId)] });
          if (data.length) out.reactions = { data };
          break;
        }
        case 'is_unsupported':
          out.is_unsupported = !!m.isUnsupported;
          break;
        case 'reply_to':
          if (m.replyToMid) out.reply_to = { mid: m.replyToMid };
          break;
        default:
          throw nonexistingField(f.name, 'Message');
      }
    }
    if (!('id' in out)) out.id = m.mid;
    return out;
  }

  /** Messenger-style attachment object; each read mints a fresh CDN URL. */
  private renderAttachment(x: AttachmentRecord): Record<string, unknown> {
    const url = x.assetId ? this.ctx.cdn.url(x.assetId) : (x.sourceUrl ?? '');
    const asset = x.assetId ? this.ctx.cdn.assets.get(x.assetId) : undefined;
    const base: Record<string, unknown> = {
      id: x.assetId,
      mime_type: asset?.mimeType ?? 'application/octet-stream',
      name: `${x.type}-${x.assetId ?? 'external'}`,
    };
    if (x.type === 'image') base.image_data = { width: 1, height: 1, url, preview_url: url };
    else if (x.type === 'video') base.video_data = { width: 1, height: 1, url, preview_url: url };
    else base.file_url = url;
    return base;
  }

  private thread(a: Authed, conversationId: string, method: string): Thread {
    const decoded = decodeConversationId(conversationId);
    const thread = decoded && this.ctx.state.threads.get(decoded.threadId);
    if (!thread || thread.businessIgId !== a.biz.igId)
      throw errors.unknownObject(conversationId, method);
    return thread;
  }

  private conversationRate(a: Authed): void {
    const { limiter, limits, clock } = this.ctx;
    if (!limiter.hit(`conv:${a.biz.igId}`, limits.conversationsPerSecond, 1000, clock.now())) {
      throw errors.rateLimited(613);
    }
  }

  private conversationNode(req: GraphRequest, a: Authed, conversationId: string): GraphReply {
    if (req.method !== 'GET') throw errors.unknownObject(conversationId, req.method);
    this.requirePermission(a, MANAGE_MESSAGES, 'read');
    const thread = this.thread(a, conversationId, req.method);
    this.conversationRate(a);
    const fields = parseFields(req.query.fields);
    return ok(this.renderConversation(req, thread, fields.length ? fields : [{ name: 'id' }]));
  }

  private conversationMessagesEdge(
    req: GraphRequest,
    a: Authed,
    conversationId: string,
  ): GraphReply {
    this.requirePermission(a, MANAGE_MESSAGES, 'read');
    const thread = this.thread(a, conversationId, req.method);
    this.conversationRate(a);
    const limit = clampLimit(req.query.limit, 20);
    const children = parseFields(req.query.fields);
    return ok(this.messagesEdge(req, thread, { name: 'messages', limit, children }, req.query));
  }

  private renderConversation(
    req: GraphRequest,
    t: Thread,
    fields: FieldSpec[],
  ): Record<string, unknown> {
    const { state } = this.ctx;
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      switch (f.name) {
        case 'id':
          out.id = t.conversationId;
          break;
        case 'updated_time':
          out.updated_time = graphTime(t.updatedAt);
          break;
        case 'message_count':
          out.message_count = t.messages.filter((m) => !m.deleted).length;
          break;
        case 'participants': {
          const biz = state.businesses.get(t.businessIgId);
          const cust = state.customer(t.businessIgId, t.customerIgsid);
          out.participants = {
            data: [
              { username: cust?.username ?? '', id: t.customerIgsid },
              { username: biz?.username ?? '', id: t.businessIgId },
            ],
          };
          break;
        }
        case 'messages':
          out.messages = this.messagesEdge(req, t, f, {});
          break;
        default:
          throw nonexistingField(f.name, 'Conversation');
      }
    }
    if (!('id' in out)) out.id = t.conversationId;
    return out;
  }

  /** Newest first; only the 20 most recent messages expose details beyond id/created_time. */
  private messagesEdge(
    req: GraphRequest,
    t: Thread,
    f: FieldSpec,
    paging: Record<string, string>,
  ): Record<string, unknown> {
    const all = t.messages.filter((m) => !m.deleted).reverse();
    const page = paginate(all, (m) => m.mid, f.limit ?? 20, paging);
    const sub = f.children?.length ? f.children : [{ name: 'id' }, { name: 'created_time' }];
    const data = page.items.map((m) => {
      const detailed = all.indexOf(m) < READABLE_MESSAGES;
      return this.renderMessage(
        m,
        detailed ? sub : sub.filter((s) => s.name === 'id' || s.name === 'created_time'),
      );
    });
    const next = page.after
      ? this.pageUrl(req, `${t.conversationId}/messages`, {
          fields: f.children?.map(fieldToString).join(','),
          limit: String(f.limit ?? 20),
          after: page.after,
        })
      : undefined;
    return { data, paging: pagingObject(page, next) };
  }

  private conversations(req: GraphRequest, a: Authed, id: string): GraphReply {
    this.requirePermission(a, MANAGE_MESSAGES, 'read');
    // Using the app-scoped `id` from /me instead of user_id returns an empty list (graph-api.md §5).
    if (id === a.biz.appScopedId) return ok({ data: [] });
    const biz = this.account(a, id, req.method);
    const platform = req.query.platform;
    if (platform !== undefined && platform.toLowerCase() !== 'instagram') {
      throw errors.param('Param platform must be one of {instagram, messenger}');
    }
    this.conversationRate(a);
    let threads = [...this.ctx.state.threads.values()].filter((t) => t.businessIgId === biz.igId);
    if (req.query.user_id) threads = threads.filter((t) => t.customerIgsid === req.query.user_id);
    threads.sort((x, y) => y.updatedAt - x.updatedAt);
    const limit = clampLimit(req.query.limit, 25);
    const page = paginate(threads, (t) => t.conversationId, limit, req.query);
    const fields = parseFields(req.query.fields);
    const data = page.items.map((t) =>
      this.renderConversation(
        req,
        t,
        fields.length ? fields : [{ name: 'id' }, { name: 'updated_time' }],
      ),
    );
    const next = page.after
      ? this.pageUrl(req, `${id}/conversations`, {
          platform: req.query.platform,
          user_id: req.query.user_id,
          fields: req.query.fields,
          limit: String(limit),
          after: page.after,
        })
      : undefined;
    return ok({ data, paging: pagingObject(page, next) });
  }

  /** Meta's `paging.next` URLs carry the access token. */
  private pageUrl(
    req: GraphRequest,
    path: string,
    params: Record<string, string | undefined>,
  ): string {
    const q = new URLSearchParams();
    if (req.token) q.set('access_token', req.token);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
    return `${this.ctx.graphUrl}/${req.version ?? 'v24.0'}/${path}?${q.toString()}`;
  }

  private commentNode(req: GraphRequest, a: Authed, id: string): GraphReply {
    const c = this.ctx.state.comments.get(id);
    if (!c || c.businessIgId !== a.biz.igId || c.deleted)
      throw errors.unknownObject(id, req.method);
    this.requirePermission(a, MANAGE_COMMENTS, req.method === 'GET' ? 'read' : 'send');
    if (req.method === 'DELETE') {
      c.deleted = true;
      return ok({ success: true });
    }
    if (req.method === 'POST') {
      if (req.params.hide === undefined) throw errors.param('The parameter hide is required');
      c.hidden = req.params.hide === true || req.params.hide === 'true';
      return ok({ success: true });
    }
    const values: Record<string, unknown> = {
      id: c.id,
      text: c.text,
      timestamp: graphTime(c.createdAt),
      from: { id: c.fromId, username: c.fromUsername },
      username: c.fromUsername,
      media: { id: c.mediaId },
      parent_id: c.parentId,
      hidden: !!c.hidden,
      like_count: 0,
    };
    return ok(pick(values, fieldNames(req, ['id', 'text', 'timestamp']), 'IGComment'));
  }

  private mediaNode(req: GraphRequest, a: Authed, id: string): GraphReply {
    const m = this.ctx.state.media.get(id);
    if (!m || m.businessIgId !== a.biz.igId || req.method !== 'GET')
      throw errors.unknownObject(id, req.method);
    const values: Record<string, unknown> = {
      id: m.id,
      caption: m.caption,
      media_type: m.mediaType,
      media_product_type: m.productType,
      permalink: `https://www.instagram.com/p/${m.id.slice(-11)}/`,
      timestamp: graphTime(m.createdAt),
      username: a.biz.username,
    };
    return ok(pick(values, fieldNames(req, ['id']), 'IGMedia'));
  }

  private commentReply(req: GraphRequest, a: Authed, commentId: string): GraphReply {
    const parent = this.ctx.state.comments.get(commentId);
    if (!parent || parent.businessIgId !== a.biz.igId || parent.deleted) {
      throw errors.unknownObject(commentId, req.method);
    }
    this.requirePermission(a, MANAGE_COMMENTS, 'send');
    const text = req.params.message;
    if (typeof text !== 'string' || !text) throw errors.param('The parameter message is required');
    const reply = this.ctx.state.createComment({
      id: newCommentId(),
      businessIgId: a.biz.igId,
      mediaId: parent.mediaId,
      fromId: a.biz.igId,
      fromUsername: a.biz.username,
      text,
      createdAt: this.ctx.clock.tick(),
      parentId: parent.parentId ?? parent.id,
      live: false,
      productType: parent.productType,
    });
    // The account's own replies come back as `comments` webhooks (comment-own.json).
    this.ctx.emit(
      [
        {
          entryId: a.biz.igId,
          container: 'changes',
          event: commentChange(reply, { selfIgScopedId: a.biz.appScopedId }),
          field: 'comments',
          at: reply.createdAt,
        },
      ],
      'comment-own',
    );
    return ok({ id: reply.id });
  }

  // ---------------------------------------------------------------- subscriptions

  private subscribedApps(req: GraphRequest, a: Authed, id: string): GraphReply {
    const biz = this.account(a, id, req.method);
    const { state, clientId } = this.ctx;
    if (req.method === 'GET') {
      return ok({
        data: biz.subscribedFields.length
          ? [{ id: clientId, subscribed_fields: [...biz.subscribedFields] }]
          : [],
      });
    }
    this.requirePermission(a, MANAGE_MESSAGES, 'read');
    if (req.method === 'DELETE') {
      biz.subscribedFields = [];
      return ok({ success: true });
    }
    if (req.method !== 'POST') throw errors.unknownPath(`/${req.segments.join('/')}`);
    const raw = req.params.subscribed_fields;
    const fields = Array.isArray(raw)
      ? raw.map(String)
      : typeof raw === 'string'
        ? raw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    if (!fields?.length) throw errors.param('The parameter subscribed_fields is required.');
    fields.forEach((f, i) => {
      if (!(KNOWN_FIELDS as readonly string[]).includes(f)) {
        throw errors.param(
          `Param subscribed_fields[${i}] must be one of {${KNOWN_FIELDS.join(', ')}} - got "${f}".`,
        );
      }
    });
    // Fields not enabled on the app are dropped silently while Meta still answers success.
    biz.subscribedFields = [...new Set(fields)].filter((f) => state.appFields.includes(f));
    return ok({ success: true });
  }

  // ---------------------------------------------------------------- Send API

  private async send(req: GraphRequest, a: Authed, id: string): Promise<GraphReply> {
    const biz = this.account(a, id, req.method);
    const { state, clock, limiter, limits } = this.ctx;
    const p = req.params;
    if ('__invalid_json' in p) throw errors.param('Invalid JSON in request body');
    this.requirePermission(a, MANAGE_MESSAGES, 'send');
    const recipient = p.recipient;
    if (!isObject(recipient)) throw errors.param('The parameter recipient is required');

    if (typeof recipient.comment_id === 'string')
      return this.privateReply(req, a, recipient.comment_id);
    if (typeof recipient.id !== 'string' || !recipient.id)
      throw errors.param('Param recipient[id] must be a valid ID string');
    const customer = state.customer(biz.igId, recipient.id);
    if (!customer) throw errors.noMatchingUser();
    const tag = typeof p.tag === 'string' ? p.tag : undefined;
    const messagingType = typeof p.messaging_type === 'string' ? p.messaging_type : undefined;
    if (messagingType && !['RESPONSE', 'UPDATE', 'MESSAGE_TAG'].includes(messagingType)) {
      throw errors.param('Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}');
    }
    if (tag !== undefined && tag !== 'HUMAN_AGENT')
      throw errors.param('Param tag must be one of {HUMAN_AGENT}');
    if (messagingType === 'MESSAGE_TAG' && !tag)
      throw errors.param('Param tag is required for MESSAGE_TAG');
    this.checkWindow(customer, tag === 'HUMAN_AGENT');

    const thread = state.threadFor(biz.igId, customer.igsid);
    const action = p.sender_action;
    if (action !== undefined) {
      if (p.message !== undefined) throw errors.param('sender_action cannot be sent with message');
      if (!limiter.hit(`send:${biz.igId}`, limits.sendPerSecond, 1000, clock.now()))
        throw errors.rateLimited(613);
      return this.senderAction(thread, typeof action === 'string' ? action : '', p.payload);
    }

    const message = p.message;
    if (!isObject(message)) throw errors.param('The parameter message is required');
    const content = this.parseMessage(message, thread);
    const heavy = content.attachments.some((x) => x.type === 'audio' || x.type === 'video');
    const allowed = heavy
      ? limiter.hit(`media:${biz.igId}`, limits.mediaSendPerSecond, 1000, clock.now())
      : limiter.hit(`send:${biz.igId}`, limits.sendPerSecond, 1000, clock.now());
    if (!allowed) throw errors.rateLimited(613);

    const rec = state.addMessage(thread, {
      direction: 'outbound',
      fromId: biz.igId,
      toId: customer.igsid,
      via: 'send_api',
      tag,
      messagingType,
      ...content,
    });
    await this.ctx.echo(rec);
    return ok({ recipient_id: customer.igsid, message_id: rec.mid });
  }

  private checkWindow(c: CustomerRecord, humanAgent: boolean): void {
    const last = c.lastUserMessageAt;
    const age = last === undefined ? Infinity : this.ctx.clock.now() - last;
    if (age > (humanAgent ? 7 * DAY_MS : DAY_MS)) throw errors.outsideWindow();
  }

  private senderAction(thread: Thread, action: string, payload: unknown): GraphReply {
    const recipient_id = thread.customerIgsid;
    if (['typing_on', 'typing_off', 'mark_seen'].includes(action)) return ok({ recipient_id });
    if (action !== 'react' && action !== 'unreact') {
      throw errors.param(
        'Param sender_action must be one of {typing_on, typing_off, mark_seen, react, unreact}',
      );
    }
    if (!isObject(payload) || typeof payload.message_id !== 'string') {
      throw errors.param('The parameter payload[message_id] is required');
    }
    const target = this.ctx.state.messages.get(payload.message_id);
    if (!target || target.threadId !== thread.threadId || target.deleted) {
      throw errors.param(
        'Param payload[message_id] must be a valid message ID of this conversation',
      );
    }
    if (action === 'react') {
      if (typeof payload.reaction !== 'string' || !payload.reaction) {
        throw errors.param('The parameter payload[reaction] is required');
      }
      target.reactions.business = payload.reaction;
    } else {
      delete target.reactions.business;
    }
    // Meta sends no echo for the business's own reactions.
    return ok({ recipient_id });
  }

  private parseMessage(
    message: Record<string, unknown>,
    thread: Thread,
  ): Pick<MessageRecord, 'text' | 'attachments' | 'replyToMid' | 'quickReplies'> {
    const text = message.text;
    if (text !== undefined && typeof text !== 'string')
      throw errors.param('Param message[text] must be a string');
    if (text !== undefined && Buffer.byteLength(text, 'utf8') > 1000) {
      throw errors.param('Length of param message[text] must be less than or equal to 1000');
    }
    const rawAttachments = message.attachment ?? message.attachments;
    const list =
      rawAttachments === undefined
        ? []
        : Array.isArray(rawAttachments)
          ? rawAttachments
          : [rawAttachments];
    if (list.length > 10)
      throw errors.param('Param message[attachments] must contain at most 10 items');
    const attachments = list.map((x, i) => this.parseAttachment(x, i, list.length));
    if (!text && !attachments.length)
      throw errors.param('Param message must contain text or an attachment');
    if (text && attachments.length)
      throw errors.param('Message cannot contain both text and an attachment');

    let replyToMid: string | undefined;
    const replyTo = message.reply_to;
    if (replyTo !== undefined) {
      const mid = isObject(replyTo) ? replyTo.mid : undefined;
      const target = typeof mid === 'string' ? this.ctx.state.messages.get(mid) : undefined;
      if (!target || target.threadId !== thread.threadId) {
        throw errors.param('Param message[reply_to][mid] must be a message of this conversation');
      }
      replyToMid = target.mid;
    }
    let quickReplies: unknown[] | undefined;
    if (message.quick_replies !== undefined) {
      if (!Array.isArray(message.quick_replies) || message.quick_replies.length > 13) {
        throw errors.param('Param message[quick_replies] must be an array of at most 13 items');
      }
      quickReplies = message.quick_replies.map((q: unknown) => {
        const qr = isObject(q) ? q : {};
        return {
          ...qr,
          title: typeof qr.title === 'string' ? [...qr.title].slice(0, 20).join('') : qr.title,
        };
      });
    }
    return { text: text || undefined, attachments, replyToMid, quickReplies };
  }

  private parseAttachment(x: unknown, i: number, count: number): AttachmentRecord {
    if (!isObject(x) || typeof x.type !== 'string') {
      throw errors.param(`Param message[attachment][${i}][type] is required`);
    }
    const type = x.type.toLowerCase();
    if (!SEND_TYPES.has(type)) {
      throw errors.param(
        `Param message[attachment][type] must be one of {image, video, audio, file, like_heart, MEDIA_SHARE, template}`,
      );
    }
    if (count > 1 && type !== 'image')
      throw errors.param('Only images can be sent as multiple attachments');
    const payload = isObject(x.payload) ? x.payload : undefined;
    if (type === 'like_heart') return { type };
    if (type === 'template') return { type, payload };
    if (type === 'media_share') {
      const mediaId = payload?.id;
      const media = typeof mediaId === 'string' ? this.ctx.state.media.get(mediaId) : undefined;
      if (!media)
        throw errors.param(
          'Param message[attachment][payload][id] must be a media ID owned by this account',
        );
      const asset = this.ctx.cdn.createAsset('ig_post');
      return { type: 'ig_post', assetId: asset.id, mediaId: media.id, title: media.caption };
    }
    const url = payload?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
      if (typeof payload?.attachment_id === 'string') {
        return { type, assetId: this.ctx.cdn.createAsset(type).id };
      }
      throw errors.param('Param message[attachment][payload][url] must be a valid URL', 2018008);
    }
    // Meta re-hosts the media on its CDN; the echo carries the CDN URL, not the one sent.
    return { type, sourceUrl: url, assetId: this.ctx.cdn.createAsset(type).id };
  }

  private async privateReply(req: GraphRequest, a: Authed, commentId: string): Promise<GraphReply> {
    const { state, clock, limiter, limits } = this.ctx;
    this.requirePermission(a, MANAGE_COMMENTS, 'send');
    const comment = state.comments.get(commentId);
    const now = clock.now();
    if (
      !comment ||
      comment.businessIgId !== a.biz.igId ||
      comment.deleted ||
      comment.privateReplyMid ||
      now - comment.createdAt > 7 * DAY_MS
    ) {
      throw errors.privateReplyInvalid();
    }
    const message = req.params.message;
    if (!isObject(message) || typeof message.text !== 'string' || !message.text) {
      throw errors.param('Private replies must contain message[text]');
    }
    if (Buffer.byteLength(message.text, 'utf8') > 1000) {
      throw errors.param('Length of param message[text] must be less than or equal to 1000');
    }
    if (!limiter.hit(`private:${a.biz.igId}`, limits.privateRepliesPerHour, 3_600_000, now)) {
      throw errors.rateLimited(613);
    }
    const customer =
      state.customer(a.biz.igId, comment.fromId) ??
      state.createCustomer(a.biz, { igsid: comment.fromId, username: comment.fromUsername });
    const thread = state.threadFor(a.biz.igId, customer.igsid);
    const rec = state.addMessage(thread, {
      direction: 'outbound',
      fromId: a.biz.igId,
      toId: customer.igsid,
      text: message.text,
      attachments: [],
      via: 'private_reply',
      commentId,
    });
    comment.privateReplyMid = rec.mid;
    await this.ctx.echo(rec);
    return ok({ recipient_id: customer.igsid, message_id: rec.mid });
  }
}

// ------------------------------------------------------------------ helpers

function ok(body: unknown): GraphReply {
  return { status: 200, body };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function fieldNames(req: GraphRequest, defaults: string[]): string[] {
  const names = parseFields(req.query.fields).map((f) => f.name);
  return names.length ? names : defaults;
}

function nonexistingField(field: string, node: string): GraphError {
  return errors.param(`Tried accessing nonexisting field (${field}) on node type (${node})`);
}

/** Requested fields in request order, then `id` (Graph always returns it). */
function pick(
  values: Record<string, unknown>,
  names: string[],
  node: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) {
    if (!(n in values)) throw nonexistingField(n, node);
    if (values[n] !== undefined) out[n] = values[n];
  }
  if (!('id' in out)) out.id = values.id;
  return out;
}

function clampLimit(raw: string | undefined, dflt: number): number {
  const n = raw === undefined ? dflt : parseInt(raw, 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 100) : dflt;
}

function fieldToString(f: FieldSpec): string {
  const lim = f.limit !== undefined ? `.limit(${f.limit})` : '';
  const kids = f.children?.length ? `{${f.children.map(fieldToString).join(',')}}` : '';
  return `${f.name}${lim}${kids}`;
}

interface Page<T> {
  items: T[];
  before?: string;
  after?: string;
  firstCursor?: string;
  lastCursor?: string;
}

function cursorOf(key: string): string {
  return metaEscapeBase64(Buffer.from(`cursor:${key}`).toString('base64'));
}

function keyOfCursor(cursor: string): string | undefined {
  const raw = Buffer.from(metaUnescapeBase64(cursor), 'base64').toString('utf8');
  return raw.startsWith('cursor:') ? raw.slice(7) : undefined;
}

/** Cursor paging keyed by item id, so cursors survive items being added at the top. */
function paginate<T>(
  all: T[],
  key: (t: T) => string,
  limit: number,
  q: Record<string, string>,
): Page<T> {
  let start = 0;
  let end = all.length;
  if (q.after) {
    const k = keyOfCursor(q.after);
    const i = all.findIndex((t) => key(t) === k);
    start = i === -1 ? all.length : i + 1;
    end = Math.min(all.length, start + limit);
  } else if (q.before) {
    const k = keyOfCursor(q.before);
    const i = all.findIndex((t) => key(t) === k);
    end = i === -1 ? 0 : i;
    start = Math.max(0, end - limit);
  } else {
    end = Math.min(all.length, limit);
  }
  const items = all.slice(start, end);
  const firstCursor = items.length ? cursorOf(key(items[0])) : undefined;
  const lastCursor = items.length ? cursorOf(key(items[items.length - 1])) : undefined;
  return {
    items,
    firstCursor,
    lastCursor,
    after: end < all.length ? lastCursor : undefined,
    before: start > 0 ? firstCursor : undefined,
  };
}

function pagingObject<T>(page: Page<T>, next: string | undefined): Record<string, unknown> {
  return {
    cursors: { before: page.firstCursor ?? '', after: page.lastCursor ?? '' },
    next,
  };
}
