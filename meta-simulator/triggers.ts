import { randomBytes } from 'node:crypto';
import {
  REACTION_EMOJI,
  commentChange,
  envelope,
  messagingElement,
  type Container,
  type WebhookEvent,
} from './events';
import {
  encodeMid,
  newAppScopedId,
  newAssetId,
  newBusinessIgId,
  newCommentId,
  newIgsid,
  newItemId,
  newMediaId,
  newThreadId,
} from './ids';

/**
 * One realistic delivery per named kind, with fresh ids and timestamps (Stripe-CLI style).
 * Stateless on purpose: the CLI fires these at any URL without a running simulator.
 */

export const TRIGGER_KINDS = [
  'text',
  'image',
  'video',
  'audio',
  'file',
  'share',
  'ig-post',
  'ig-reel',
  'ig-story',
  'story-mention',
  'story-reply',
  'reply',
  'quick-reply',
  'echo',
  'echo-attachment',
  'unsend',
  'edit',
  'edit-no-text',
  'reaction',
  'unreaction',
  'read',
  'postback',
  'referral',
  'referral-ad',
  'standby',
  'comment',
  'comment-reply',
  'comment-ad',
  'comment-own',
  'live-comment',
  'mention',
  'unsupported',
  'dashboard-test',
  'batch',
] as const;

export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** Reference payload of Meta's, kept in meta-simulator/fixtures/payloads,
 * whose key structure each kind reproduces. */
export const TRIGGER_FIXTURES: Record<TriggerKind, string> = {
  text: 'message-text.json',
  image: 'message-image.json',
  video: 'message-video.json',
  audio: 'message-audio.json',
  file: 'message-image.json',
  share: 'message-share.json',
  'ig-post': 'message-ig-post.json',
  'ig-reel': 'message-ig-reel.json',
  'ig-story': 'message-ig-story.json',
  'story-mention': 'story-mention.json',
  'story-reply': 'story-reply.json',
  reply: 'reply-to-message.json',
  'quick-reply': 'quick-reply.json',
  echo: 'echo.json',
  'echo-attachment': 'echo-attachment.json',
  unsend: 'unsend.json',
  edit: 'edit.json',
  'edit-no-text': 'edit-observed-no-text.json',
  reaction: 'reaction.json',
  unreaction: 'unreaction.json',
  read: 'read.json',
  postback: 'postback.json',
  referral: 'referral.json',
  'referral-ad': 'referral-ad-message.json',
  standby: 'standby.json',
  comment: 'comment.json',
  'comment-reply': 'comment-reply.json',
  'comment-ad': 'comment-on-ad.json',
  'comment-own': 'comment-own.json',
  'live-comment': 'live-comment.json',
  mention: 'mention-in-comment.json',
  unsupported: 'message-unsupported.json',
  'dashboard-test': 'dashboard-test-messages.json',
  batch: 'batch-two-accounts.json',
};

export function isTriggerKind(kind: string): kind is TriggerKind {
  return (TRIGGER_KINDS as readonly string[]).includes(kind);
}

export interface TriggerOptions {
  /** Business IG account id for `entry.id`; default a fresh 1784… id. */
  accountId?: string;
  /** Second account for `batch`. */
  accountId2?: string;
  /** Customer IGSID; default a fresh one. */
  customerId?: string;
  /** Text for kinds that carry text. */
  text?: string;
  /** Target mid for reply/unsend/edit/reaction/read; default a fresh one. */
  mid?: string;
  /** Event time (ms); default now. */
  now?: number;
  /** Media URL factory (the simulator passes its CDN); default lookaside-looking URLs. */
  mediaUrl?: (type: string, assetId: string) => string;
}

export interface TriggerResult {
  kind: TriggerKind;
  body: Record<string, unknown>;
  /** Mid of the message the delivery introduces, when there is one. */
  mid?: string;
}

function lookasideUrl(_type: string, assetId: string): string {
  const sig = randomBytes(24).toString('base64url');
  return `https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=${assetId}&signature=${sig}`;
}

export function buildTrigger(kind: TriggerKind, opts: TriggerOptions = {}): TriggerResult {
  const now = opts.now ?? Date.now();
  const account = opts.accountId ?? newBusinessIgId();
  const customer = opts.customerId ?? newIgsid();
  const threads = new Map<string, string>();
  const mid = (acc: string, cust: string): string => {
    const key = `${acc}:${cust}`;
    if (!threads.has(key)) threads.set(key, newThreadId());
    return encodeMid(acc, threads.get(key) ?? '', newItemId());
  };
  const media = (type: string, assetId = newAssetId()): string =>
    (opts.mediaUrl ?? lookasideUrl)(type, assetId);
  const targetMid = opts.mid ?? mid(account, customer);
  const ev = (
    key: string,
    value: unknown,
    field: string,
    o: { from?: string; to?: string; acc?: string; container?: Container; at?: number } = {},
  ): WebhookEvent => {
    const acc = o.acc ?? account;
    return {
      entryId: acc,
      container: o.container ?? 'messaging',
      event: messagingElement(o.from ?? customer, o.to ?? acc, o.at ?? now, key, value),
      field,
      at: o.at ?? now,
    };
  };
  const single = (e: WebhookEvent, m?: string): TriggerResult => ({
    kind,
    body: envelope([e], now),
    mid: m,
  });
  const msg = (fields: Record<string, unknown>, o?: Parameters<typeof ev>[3]): TriggerResult => {
    const m = (fields.mid as string | undefined) ?? mid(account, customer);
    return single(ev('message', { mid: m, ...fields }, 'messages', o), m);
  };
  const attach = (type: string, payload: Record<string, unknown>): TriggerResult =>
    msg({ attachments: [{ type, payload }] });
  const text = opts.text;

  switch (kind) {
    case 'text':
      return msg({ text: text ?? 'Hi! Do you ship to Lisbon/Porto? \ud83d\ude0a' });
    case 'image':
    case 'video':
    case 'audio':
    case 'file':
    case 'share':
    case 'story-mention': {
      const type = kind === 'story-mention' ? 'story_mention' : kind;
      return attach(type, { url: media(type) });
    }
    case 'ig-post': {
      const id = newMediaId();
      return attach('ig_post', {
        url: media('ig_post', id),
        title: 'New spring collection is live \u2728',
        ig_post_media_id: id,
      });
    }
    case 'ig-reel': {
      const id = newMediaId();
      return attach('ig_reel', {
        reel_video_id: id,
        title: 'How we pack your order',
        url: media('ig_reel', id),
      });
    }
    case 'ig-story': {
      const id = newMediaId();
      return attach('ig_story', { story_media_id: id, story_media_url: media('ig_story', id) });
    }
    case 'story-reply': {
      const id = newMediaId();
      return msg({
        text: text ?? 'Is this still available in M?',
        reply_to: { story: { url: media('ig_story', id), id } },
      });
    }
    case 'reply':
      return msg({ text: text ?? 'Yes, that one please', reply_to: { mid: targetMid } });
    case 'quick-reply':
      return msg({ text: text ?? 'Track my order', quick_reply: { payload: 'QR_TRACK_ORDER' } });
    case 'referral-ad':
      return msg({
        text: text ?? 'Hi, I saw your ad',
        referral: {
          ref: 'campaign_42',
          ad_id: '120200000000000001',
          source: 'ADS',
          type: 'OPEN_THREAD',
          ads_context_data: {
            ad_title: 'Spring sale - 20% off',
            photo_url: 'https://scontent.example.invalid/ad-photo.jpg',
          },
        },
      });
    case 'unsupported':
      return msg({ is_unsupported: true });
    case 'echo':
      return msg(
        { text: text ?? 'We ship to Lisbon in 2-3 days.', is_echo: true },
        { from: account, to: customer },
      );
    case 'echo-attachment':
      return msg(
        {
          attachments: [
            { type: 'image', payload: { url: media('image') } },
            { type: 'image', payload: { url: media('image') } },
          ],
          is_echo: true,
        },
        { from: account, to: customer },
      );
    case 'standby':
      return msg({ text: text ?? 'Anyone there?' }, { container: 'standby' });
    case 'unsend':
      return single(ev('message', { mid: targetMid, is_deleted: true }, 'messages'), targetMid);
    case 'edit':
      return single(
        ev(
          'message_edit',
          { mid: targetMid, text: text ?? 'Yes, that one please, size M', num_edit: 1 },
          'message_edit',
        ),
        targetMid,
      );
    case 'edit-no-text':
      return single(ev('message_edit', { mid: targetMid, num_edit: 0 }, 'message_edit'), targetMid);
    case 'reaction':
      return single(
        ev(
          'reaction',
          { mid: targetMid, action: 'react', reaction: 'love', emoji: REACTION_EMOJI.love },
          'message_reactions',
        ),
      );
    case 'unreaction':
      return single(ev('reaction', { mid: targetMid, action: 'unreact' }, 'message_reactions'));
    case 'read':
      return single(ev('read', { mid: targetMid }, 'messaging_seen'));
    case 'postback': {
      const m = mid(account, customer);
      const value = { mid: m, title: 'What are your opening hours?', payload: 'ICEBREAKER_HOURS' };
      return single(ev('postback', value, 'messaging_postbacks'), m);
    }
    case 'referral':
      return single(
        ev(
          'referral',
          { ref: 'spring_sale_2026', source: 'SHORTLINKS', type: 'OPEN_THREAD' },
          'messaging_referral',
        ),
      );
    case 'comment':
    case 'comment-reply':
    case 'comment-ad':
    case 'comment-own':
    case 'live-comment': {
      const own = kind === 'comment-own';
      const c = commentChange(
        {
          id: newCommentId(),
          businessIgId: account,
          mediaId: newMediaId(),
          fromId: own ? account : customer,
          fromUsername: own ? 'test_shop_a' : 'test_buyer_four',
          text:
            text ??
            (kind === 'live-comment' ? 'Hello from the live!' : 'How much is this? \ud83d\udc40'),
          createdAt: now,
          parentId: kind === 'comment-reply' || own ? newCommentId() : undefined,
          live: kind === 'live-comment',
          productType: kind === 'comment-ad' ? 'AD' : kind === 'comment-reply' ? 'REELS' : 'FEED',
        },
        {
          selfIgScopedId: own ? newAppScopedId() : undefined,
          media:
            kind === 'comment-ad'
              ? {
                  ad_id: '120200000000000001',
                  ad_title: 'Spring sale - 20% off',
                  original_media_id: newMediaId(),
                }
              : undefined,
        },
      );
      return single({
        entryId: account,
        container: 'changes',
        event: c,
        field: 'comments',
        at: now,
      });
    }
    case 'mention':
      return single({
        entryId: account,
        container: 'changes',
        event: { value: { media_id: newMediaId(), comment_id: newCommentId() }, field: 'mentions' },
        field: 'mentions',
        at: now,
      });
    case 'dashboard-test':
      // The App Dashboard "Test" button sends these fixed placeholder values.
      return {
        kind,
        body: {
          object: 'instagram',
          entry: [
            {
              id: '0',
              time: now,
              changes: [
                {
                  field: 'messages',
                  value: {
                    sender: { id: '12334' },
                    recipient: { id: '23245' },
                    timestamp: '1527459824',
                    message: { mid: 'random_mid', text: 'random_text' },
                  },
                },
              ],
            },
          ],
        },
      };
    case 'batch': {
      const b = opts.accountId2 ?? newBusinessIgId();
      const [c2, c3, c4] = [newIgsid(), newIgsid(), newIgsid()];
      const m1 = mid(account, customer);
      const events: WebhookEvent[] = [
        ev('message', { mid: m1, text: text ?? 'One more question' }, 'messages', { at: now }),
        ev('read', { mid: mid(account, customer) }, 'messaging_seen', { at: now + 900 }),
        ev('message', { mid: mid(b, c3), text: 'Hello shop B' }, 'messages', {
          acc: b,
          from: c3,
          at: now + 150,
        }),
        ev(
          'message',
          { mid: mid(b, c4), text: 'Thanks for your order!', is_echo: true },
          'messages',
          { acc: b, from: b, to: c4, at: now + 400 },
        ),
        ev(
          'reaction',
          { mid: mid(account, c2), action: 'react', reaction: 'love', emoji: REACTION_EMOJI.love },
          'message_reactions',
          { from: c2, at: now + 600 },
        ),
        ev(
          'message',
          { mid: mid(b, c4), attachments: [{ type: 'image', payload: { url: media('image') } }] },
          'messages',
          { acc: b, from: c4, at: now + 700 },
        ),
      ];
      return { kind, body: envelope(events, now + 1000), mid: m1 };
    }
  }
}
