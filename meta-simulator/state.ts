import {
  encodeConversationId,
  encodeMid,
  newAccessToken,
  newAppScopedId,
  newBusinessIgId,
  newCommentId,
  newIgsid,
  newItemId,
  newMediaId,
  newThreadId,
} from './ids';

export const SIXTY_DAYS_S = 5_184_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Every webhook field an Instagram-Login app can subscribe an account to. */
export const KNOWN_FIELDS = [
  'messages',
  'message_reactions',
  'messaging_seen',
  'messaging_postbacks',
  'messaging_referral',
  'messaging_optins',
  'messaging_handover',
  'message_edit',
  'standby',
  'comments',
  'live_comments',
  'mentions',
] as const;

/** Fields ticked on the (simulated) app by default; `mentions` is Facebook-Login only. */
export const DEFAULT_APP_FIELDS: string[] = KNOWN_FIELDS.filter((f) => f !== 'mentions');

export const ALL_SCOPES = [
  'instagram_business_basic',
  'instagram_business_manage_messages',
  'instagram_business_manage_comments',
];

export interface Business {
  igId: string;
  /** `id` of GET /me: app-scoped, deliberately different from igId. */
  appScopedId: string;
  username: string;
  name: string;
  accountType: 'BUSINESS' | 'MEDIA_CREATOR';
  profilePictureUrl: string;
  followersCount: number;
  followsCount: number;
  mediaCount: number;
  /** Latest token issued for this account (createBusiness or OAuth). */
  accessToken: string;
  tokenCreatedAt: number;
  tokenExpiresAt: number;
  permissions: string[];
  /** Account-level webhook subscription (already intersected with the app-level fields). */
  subscribedFields: string[];
}

export interface TokenRecord {
  token: string;
  igId: string;
  kind: 'short' | 'long';
  createdAt: number;
  expiresAt: number;
  permissions: string[];
  /** Set by invalidateToken: calls answer 190 with this subcode. */
  invalidatedSubcode?: number;
  /** Tokens replaced by refresh stay valid until they expire, like Meta's. */
  refreshedInto?: string;
}

export interface CustomerRecord {
  igsid: string;
  businessIgId: string;
  name: string | null;
  username: string;
  profilePic: string | null;
  followerCount: number;
  isUserFollowBusiness: boolean;
  isBusinessFollowUser: boolean;
  isVerifiedUser: boolean;
  /** True once the user messaged the account or tapped a postback: unlocks the profile API. */
  consent: boolean;
  /** Last event that opens the messaging window (ms, simulated clock). */
  lastUserMessageAt?: number;
}

export interface AttachmentRecord {
  type: string;
  assetId?: string;
  /** URL the business sent (Send API) or the customer's original, for reference only. */
  sourceUrl?: string;
  title?: string;
  mediaId?: string;
  payload?: Record<string, unknown>;
}

export interface MessageRecord {
  mid: string;
  threadId: string;
  businessIgId: string;
  customerIgsid: string;
  direction: 'inbound' | 'outbound';
  fromId: string;
  toId: string;
  createdAt: number;
  text?: string;
  attachments: AttachmentRecord[];
  replyToMid?: string;
  replyToStory?: { id: string; assetId: string };
  quickReplyPayload?: string;
  quickReplies?: unknown[];
  referral?: Record<string, unknown>;
  isUnsupported?: boolean;
  isStoryMention?: boolean;
  deleted?: boolean;
  numEdit: number;
  reactions: { customer?: string; business?: string };
  via: 'customer' | 'send_api' | 'private_reply' | 'postback';
  tag?: string;
  messagingType?: string;
  commentId?: string;
}

export interface Thread {
  threadId: string;
  conversationId: string;
  businessIgId: string;
  customerIgsid: string;
  updatedAt: number;
  /** Chronological. */
  messages: MessageRecord[];
}

export interface CommentRecord {
  id: string;
  businessIgId: string;
  mediaId: string;
  fromId: string;
  fromUsername: string;
  text?: string;
  createdAt: number;
  parentId?: string;
  live: boolean;
  productType: string;
  privateReplyMid?: string;
  hidden?: boolean;
  deleted?: boolean;
}

export interface MediaRecord {
  id: string;
  businessIgId: string;
  caption: string;
  mediaType: string;
  productType: string;
  createdAt: number;
}

export interface AuthCodeRecord {
  code: string;
  igId: string;
  clientId: string;
  redirectUri: string;
  permissions: string[];
  createdAt: number;
  used: boolean;
}

export interface CreateBusinessOptions {
  username?: string;
  name?: string;
  igId?: string;
  accountType?: 'BUSINESS' | 'MEDIA_CREATOR';
  permissions?: string[];
  /** Default: every app-level field. Pass [] to model an account igdm still has to subscribe. */
  subscribedFields?: string[];
  tokenCreatedAt?: number;
  tokenExpiresAt?: number;
}

export interface CreateCustomerOptions {
  name?: string | null;
  username?: string;
  igsid?: string;
  profilePic?: string | null;
  followerCount?: number;
  isUserFollowBusiness?: boolean;
  isBusinessFollowUser?: boolean;
  isVerifiedUser?: boolean;
}

/** Simulated clock: real time plus an offset moved by advanceClock. */
export class SimClock {
  private offset = 0;
  private last = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  /** Strictly increasing timestamps so that events created in the same ms still order. */
  tick(): number {
    const n = Math.max(this.now(), this.last + 1);
    this.last = n;
    return n;
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

/** All simulated Meta-side state. Plain maps so tests can inspect it directly. */
export class SimState {
  readonly businesses = new Map<string, Business>();
  readonly tokens = new Map<string, TokenRecord>();
  /** key: `${businessIgId}:${igsid}` */
  readonly customers = new Map<string, CustomerRecord>();
  /** key: threadId */
  readonly threads = new Map<string, Thread>();
  readonly messages = new Map<string, MessageRecord>();
  /**
   * Two businesses that talk to each other: key `${businessIgId}:${igsid}` (the other business
   * as this one sees it) → the other business and this one's IGSID in its scope.
   */
  readonly businessLinks = new Map<string, { businessIgId: string; igsid: string }>();
  readonly comments = new Map<string, CommentRecord>();
  readonly media = new Map<string, MediaRecord>();
  readonly authCodes = new Map<string, AuthCodeRecord>();
  appFields: string[] = [...DEFAULT_APP_FIELDS];

  constructor(readonly clock: SimClock) {}

  createBusiness(opts: CreateBusinessOptions = {}): Business {
    const igId = opts.igId ?? newBusinessIgId();
    const username = opts.username ?? `shop_${igId.slice(-4)}`;
    const token = this.issueToken(igId, 'long', opts.permissions ?? [...ALL_SCOPES]);
    if (opts.tokenCreatedAt !== undefined) token.createdAt = opts.tokenCreatedAt;
    if (opts.tokenExpiresAt !== undefined) token.expiresAt = opts.tokenExpiresAt;
    const biz: Business = {
      igId,
      appScopedId: newAppScopedId(),
      username,
      name: opts.name ?? username,
      accountType: opts.accountType ?? 'BUSINESS',
      profilePictureUrl: `https://scontent.cdninstagram.com/v/t51.2885-19/${igId}_profile.jpg`,
      followersCount: 1200,
      followsCount: 80,
      mediaCount: 42,
      accessToken: token.token,
      tokenCreatedAt: token.createdAt,
      tokenExpiresAt: token.expiresAt,
      permissions: token.permissions,
      subscribedFields: (opts.subscribedFields ?? this.appFields).filter((f) =>
        this.appFields.includes(f),
      ),
    };
    this.businesses.set(igId, biz);
    return biz;
  }

  issueToken(igId: string, kind: 'short' | 'long', permissions: string[]): TokenRecord {
    const now = this.clock.now();
    const rec: TokenRecord = {
      token: newAccessToken(),
      igId,
      kind,
      createdAt: now,
      expiresAt: now + (kind === 'short' ? HOUR_MS : SIXTY_DAYS_S * 1000),
      permissions: [...permissions],
    };
    this.tokens.set(rec.token, rec);
    return rec;
  }

  /** Makes `rec` the business's current token (what createBusiness/OAuth callers see). */
  adoptToken(rec: TokenRecord): void {
    const biz = this.businesses.get(rec.igId);
    if (!biz) return;
    biz.accessToken = rec.token;
    biz.tokenCreatedAt = rec.createdAt;
    biz.tokenExpiresAt = rec.expiresAt;
    biz.permissions = rec.permissions;
  }

  createCustomer(biz: Business, opts: CreateCustomerOptions = {}): CustomerRecord {
    const igsid = opts.igsid ?? newIgsid();
    const username = opts.username ?? `user_${igsid.slice(-5)}`;
    const rec: CustomerRecord = {
      igsid,
      businessIgId: biz.igId,
      name: opts.name === undefined ? username : opts.name,
      username,
      profilePic:
        opts.profilePic === undefined
          ? `https://scontent.cdninstagram.com/v/t51.2885-19/${igsid}_pic.jpg`
          : opts.profilePic,
      followerCount: opts.followerCount ?? 321,
      isUserFollowBusiness: opts.isUserFollowBusiness ?? true,
      isBusinessFollowUser: opts.isBusinessFollowUser ?? false,
      isVerifiedUser: opts.isVerifiedUser ?? false,
      consent: false,
    };
    this.customers.set(`${biz.igId}:${igsid}`, rec);
    return rec;
  }

  customer(businessIgId: string, igsid: string): CustomerRecord | undefined {
    return this.customers.get(`${businessIgId}:${igsid}`);
  }

  threadFor(businessIgId: string, igsid: string): Thread {
    for (const t of this.threads.values()) {
      if (t.businessIgId === businessIgId && t.customerIgsid === igsid) return t;
    }
    const threadId = newThreadId();
    const thread: Thread = {
      threadId,
      conversationId: encodeConversationId(businessIgId, threadId),
      businessIgId,
      customerIgsid: igsid,
      updatedAt: this.clock.now(),
      messages: [],
    };
    this.threads.set(threadId, thread);
    return thread;
  }

  addMessage(
    thread: Thread,
    init: Omit<
      MessageRecord,
      'mid' | 'threadId' | 'businessIgId' | 'customerIgsid' | 'numEdit' | 'reactions' | 'createdAt'
    > & { createdAt?: number },
    /** The other side's copy of a message between two businesses carries the sender's mid. */
    mid?: string,
  ): MessageRecord {
    const createdAt = init.createdAt ?? this.clock.tick();
    const rec: MessageRecord = {
      ...init,
      mid: mid ?? encodeMid(thread.businessIgId, thread.threadId, newItemId()),
      threadId: thread.threadId,
      businessIgId: thread.businessIgId,
      customerIgsid: thread.customerIgsid,
      createdAt,
      numEdit: 0,
      reactions: {},
    };
    thread.messages.push(rec);
    thread.updatedAt = Math.max(thread.updatedAt, createdAt);
    // The sender's record keeps the mid for Graph reads (Meta answers each side the same).
    if (!this.messages.has(rec.mid)) this.messages.set(rec.mid, rec);
    return rec;
  }

  /** Mid for an event that is not stored as a message (e.g. a postback's tap). */
  newMid(thread: Thread): string {
    return encodeMid(thread.businessIgId, thread.threadId, newItemId());
  }

  createComment(init: Omit<CommentRecord, 'id'> & { id?: string }): CommentRecord {
    const rec: CommentRecord = { ...init, id: init.id ?? newCommentId() };
    this.comments.set(rec.id, rec);
    this.ensureMedia(rec.businessIgId, rec.mediaId, rec.productType);
    return rec;
  }

  ensureMedia(
    businessIgId: string,
    mediaId: string | undefined,
    productType = 'FEED',
  ): MediaRecord {
    const id = mediaId ?? newMediaId();
    const existing = this.media.get(id);
    if (existing) return existing;
    const rec: MediaRecord = {
      id,
      businessIgId,
      caption: 'New spring collection is live ✨',
      mediaType: productType === 'REELS' ? 'VIDEO' : 'IMAGE',
      productType,
      createdAt: this.clock.now() - DAY_MS,
    };
    this.media.set(id, rec);
    return rec;
  }
}
