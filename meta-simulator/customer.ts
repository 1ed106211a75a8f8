import type { Cdn } from './cdn';
import {
  REACTION_EMOJI,
  commentChange,
  messageObject,
  messagingElement,
  type ReactionName,
  type WebhookEvent,
} from './events';
import { newMediaId } from './ids';
import type { AttachmentRecord, Business, CustomerRecord, MessageRecord, SimState } from './state';
import type { DeliveryRecord, WaitMode } from './webhooks';

export interface ActionOptions {
  /** When the returned promise resolves: after final outcome (default), first attempt, or at once. */
  wait?: WaitMode;
  /** Deliver under `entry.standby[]` (another app owns the thread). */
  standby?: boolean;
}

export interface ActionResult {
  /** Mid of the message the action created or targeted. */
  mid?: string;
  delivery: DeliveryRecord;
}

export interface CommentResult extends ActionResult {
  commentId: string;
  mediaId: string;
}

/** What a Customer needs from the simulator. */
export interface CustomerHost {
  readonly state: SimState;
  readonly cdn: Cdn;
  deliverEvents(
    events: WebhookEvent[],
    kind: string,
    wait: WaitMode | undefined,
  ): Promise<DeliveryRecord>;
}

export interface CommentOptions extends ActionOptions {
  /** Reply to another comment. */
  parentId?: string;
  /** Live-broadcast comment (`live_comments` field, media without product type). */
  live?: boolean;
  /** FEED (default), REELS, STORY, AD. */
  productType?: string;
}

export type SendableType = 'image' | 'video' | 'audio' | 'file' | 'share';

/**
 * A simulated Instagram user talking to one business account. Every action updates Meta-side
 * state (so Graph reads see it) and delivers the matching signed webhook.
 */
export class Customer {
  constructor(
    private readonly host: CustomerHost,
    readonly business: Business,
    readonly record: CustomerRecord,
  ) {}

  get igsid(): string {
    return this.record.igsid;
  }
  get name(): string | null {
    return this.record.name;
  }
  get username(): string {
    return this.record.username;
  }

  sends(text: string, opts: ActionOptions = {}): Promise<ActionResult> {
    return this.inbound({ text, attachments: [] }, opts.standby ? 'standby' : 'text', opts);
  }

  sendsImage(url?: string, opts: ActionOptions = {}): Promise<ActionResult> {
    return this.sendsAttachment('image', url, opts);
  }

  /** `url` is the customer's original; the webhook carries a CDN URL like Meta's. */
  sendsAttachment(
    type: SendableType,
    url?: string,
    opts: ActionOptions = {},
  ): Promise<ActionResult> {
    return this.inbound({ attachments: [this.asset(type, { sourceUrl: url })] }, type, opts);
  }

  sharesPost(
    caption = 'New spring collection is live \u2728',
    opts: ActionOptions = {},
  ): Promise<ActionResult> {
    const a = this.asset('ig_post', { mediaId: newMediaId(), title: caption });
    return this.inbound({ attachments: [a] }, 'ig-post', opts);
  }

  sharesReel(title = 'How we pack your order', opts: ActionOptions = {}): Promise<ActionResult> {
    const a = this.asset('ig_reel', { mediaId: newMediaId(), title });
    return this.inbound({ attachments: [a] }, 'ig-reel', opts);
  }

  sharesStory(opts: ActionOptions = {}): Promise<ActionResult> {
    return this.inbound(
      { attachments: [this.asset('ig_story', { mediaId: newMediaId() })] },
      'ig-story',
      opts,
    );
  }

  mentionsInStory(opts: ActionOptions = {}): Promise<ActionResult> {
    const a = this.asset('story_mention', { mediaId: newMediaId() });
    return this.inbound({ attachments: [a], isStoryMention: true }, 'story-mention', opts);
  }

  repliesToStory(text: string, opts: ActionOptions = {}): Promise<ActionResult> {
    const story = { id: newMediaId(), assetId: this.host.cdn.createAsset('ig_story').id };
    return this.inbound({ text, attachments: [], replyToStory: story }, 'story-reply', opts);
  }

  repliesTo(mid: string, text: string, opts: ActionOptions = {}): Promise<ActionResult> {
    this.target(mid);
    return this.inbound({ text, attachments: [], replyToMid: mid }, 'reply', opts);
  }

  quickReply(text: string, payload: string, opts: ActionOptions = {}): Promise<ActionResult> {
    return this.inbound({ text, attachments: [], quickReplyPayload: payload }, 'quick-reply', opts);
  }

  /** First message from a click-to-Direct ad: `message.referral` with source ADS. */
  sendsFromAd(text: string, ref = 'campaign_42', opts: ActionOptions = {}): Promise<ActionResult> {
    const referral = {
      ref,
      ad_id: '120200000000000001',
      source: 'ADS',
      type: 'OPEN_THREAD',
      ads_context_data: {
        ad_title: 'Spring sale - 20% off',
        photo_url: 'https://scontent.example.invalid/ad-photo.jpg',
      },
    };
    return this.inbound({ text, attachments: [], referral }, 'referral-ad', opts);
  }

  sendsUnsupported(opts: ActionOptions = {}): Promise<ActionResult> {
    return this.inbound({ attachments: [], isUnsupported: true }, 'unsupported', opts);
  }

  reacts(
    mid: string,
    reaction: ReactionName = 'love',
    opts: ActionOptions = {},
  ): Promise<ActionResult> {
    const m = this.target(mid);
    m.reactions.customer = reaction;
    const value = { mid, action: 'react', reaction, emoji: REACTION_EMOJI[reaction] };
    return this.event('reaction', value, 'message_reactions', 'reaction', mid, opts);
  }

  unreacts(mid: string, opts: ActionOptions = {}): Promise<ActionResult> {
    const m = this.target(mid);
    delete m.reactions.customer;
    return this.event(
      'reaction',
      { mid, action: 'unreact' },
      'message_reactions',
      'unreaction',
      mid,
      opts,
    );
  }

  /**
   * Edits one of the customer's messages. With `newText` undefined, or `textless: true`, the
   * webhook is the text-less `{mid, num_edit: 0}` seen in real traffic and igdm has to refetch
   * the message (which reflects `newText` when given).
   */
  edits(
    mid: string,
    newText?: string,
    opts: ActionOptions & { textless?: boolean } = {},
  ): Promise<ActionResult> {
    const m = this.target(mid);
    if (m.direction !== 'inbound') throw new Error('customers can only edit their own messages');
    if (m.numEdit >= 5) throw new Error('Instagram allows at most 5 edits per message');
    if (newText !== undefined) {
      m.text = newText;
      m.numEdit += 1;
    }
    const value =
      newText === undefined || opts.textless
        ? { mid, num_edit: 0 }
        : { mid, text: newText, num_edit: m.numEdit };
    return this.event(
      'message_edit',
      value,
      'message_edit',
      value.text === undefined ? 'edit-no-text' : 'edit',
      mid,
      opts,
    );
  }

  unsends(mid: string, opts: ActionOptions = {}): Promise<ActionResult> {
    const m = this.target(mid);
    if (m.direction !== 'inbound') throw new Error('customers can only unsend their own messages');
    m.deleted = true;
    return this.event('message', { mid, is_deleted: true }, 'messages', 'unsend', mid, opts);
  }

  /** Marks the thread seen up to `mid` (default: the latest business message). */
  reads(mid?: string, opts: ActionOptions = {}): Promise<ActionResult> {
    const thread = this.host.state.threadFor(this.business.igId, this.igsid);
    const target =
      mid ??
      [...thread.messages].reverse().find((m) => m.direction === 'outbound' && !m.deleted)?.mid;
    if (!target) throw new Error('nothing to read: the business has not sent a message yet');
    return this.event('read', { mid: target }, 'messaging_seen', 'read', target, opts);
  }

  clicksPostback(
    title: string,
    payload: string,
    opts: ActionOptions & { referral?: { ref: string; source?: string; type?: string } } = {},
  ): Promise<ActionResult> {
    const thread = this.host.state.threadFor(this.business.igId, this.igsid);
    const m = this.host.state.addMessage(thread, {
      direction: 'inbound',
      fromId: this.igsid,
      toId: this.business.igId,
      text: title,
      attachments: [],
      via: 'postback',
    });
    this.opensWindow(m.createdAt, true);
    const value: Record<string, unknown> = { mid: m.mid, title, payload };
    if (opts.referral) {
      value.referral = {
        ref: opts.referral.ref,
        source: opts.referral.source ?? 'SHORTLINKS',
        type: opts.referral.type ?? 'OPEN_THREAD',
      };
    }
    return this.event(
      'postback',
      value,
      'messaging_postbacks',
      'postback',
      m.mid,
      opts,
      m.createdAt,
    );
  }

  /** ig.me link with `?ref=` tapped in an existing thread; resets the 24 h window. */
  referral(ref: string, opts: ActionOptions = {}): Promise<ActionResult> {
    const at = this.host.state.clock.tick();
    this.opensWindow(at, false);
    const value = { ref, source: 'SHORTLINKS', type: 'OPEN_THREAD' };
    return this.event('referral', value, 'messaging_referral', 'referral', undefined, opts, at);
  }

  /**
   * Comments on the business's media (`comments(text)` or `comments(mediaId, text)`). Does not
   * give profile consent or open the DM window.
   */
  comments(text: string, opts?: CommentOptions): Promise<CommentResult>;
  comments(
    mediaId: string | undefined,
    text: string,
    opts?: CommentOptions,
  ): Promise<CommentResult>;
  async comments(
    a: string | undefined,
    b?: string | CommentOptions,
    o?: CommentOptions,
  ): Promise<CommentResult> {
    const [mediaId, text, opts]: [string | undefined, string, CommentOptions] =
      typeof b === 'string' ? [a, b, o ?? {}] : [undefined, a ?? '', b ?? {}];
    const { state } = this.host;
    const c = state.createComment({
      businessIgId: this.business.igId,
      mediaId: mediaId ?? newMediaId(),
      fromId: this.igsid,
      fromUsername: this.username,
      text,
      createdAt: state.clock.tick(),
      parentId: opts.parentId,
      live: !!opts.live,
      productType: opts.productType ?? 'FEED',
    });
    const change = commentChange(c);
    const event: WebhookEvent = {
      entryId: this.business.igId,
      container: 'changes',
      event: change,
      field: change.field as string,
      at: c.createdAt,
    };
    const kind = opts.live ? 'live-comment' : opts.parentId ? 'comment-reply' : 'comment';
    const delivery = await this.host.deliverEvents([event], kind, opts.wait);
    return { commentId: c.id, mediaId: c.mediaId, delivery };
  }

  // ------------------------------------------------------------------

  private asset(type: string, extra: Partial<AttachmentRecord> = {}): AttachmentRecord {
    return { type, assetId: this.host.cdn.createAsset(type).id, ...extra };
  }

  private target(mid: string): MessageRecord {
    const m = this.host.state.messages.get(mid);
    if (
      !m ||
      m.businessIgId !== this.business.igId ||
      m.customerIgsid !== this.igsid ||
      m.deleted
    ) {
      throw new Error(`unknown message in this conversation: ${mid}`);
    }
    return m;
  }

  private opensWindow(at: number, consent: boolean): void {
    this.record.lastUserMessageAt = Math.max(this.record.lastUserMessageAt ?? 0, at);
    if (consent) this.record.consent = true;
  }

  private async inbound(
    fields: Partial<Omit<MessageRecord, 'attachments'>> & { attachments: AttachmentRecord[] },
    kind: string,
    opts: ActionOptions,
  ): Promise<ActionResult> {
    const { state, cdn } = this.host;
    const thread = state.threadFor(this.business.igId, this.igsid);
    const m = state.addMessage(thread, {
      ...fields,
      direction: 'inbound',
      fromId: this.igsid,
      toId: this.business.igId,
      via: 'customer',
    });
    this.opensWindow(m.createdAt, true);
    const element = messagingElement(
      this.igsid,
      this.business.igId,
      m.createdAt,
      'message',
      messageObject(m, (id) => cdn.url(id)),
    );
    const event: WebhookEvent = {
      entryId: this.business.igId,
      container: opts.standby ? 'standby' : 'messaging',
      event: element,
      field: opts.standby ? 'standby' : 'messages',
      at: m.createdAt,
    };
    const delivery = await this.host.deliverEvents([event], kind, opts.wait);
    return { mid: m.mid, delivery };
  }

  private async event(
    key: string,
    value: Record<string, unknown>,
    field: string,
    kind: string,
    mid: string | undefined,
    opts: ActionOptions,
    at = this.host.state.clock.tick(),
  ): Promise<ActionResult> {
    const event: WebhookEvent = {
      entryId: this.business.igId,
      container: opts.standby ? 'standby' : 'messaging',
      event: messagingElement(this.igsid, this.business.igId, at, key, value),
      field: opts.standby ? 'standby' : field,
      at,
    };
    const delivery = await this.host.deliverEvents([event], kind, opts.wait);
    return { mid, delivery };
  }
}
