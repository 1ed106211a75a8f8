import type { AttachmentRecord, CommentRecord, MessageRecord } from './state';

/**
 * Builders for webhook event objects. Object literals are written in the key order Meta puts on
 * the wire (see meta-simulator/fixtures/payloads); metaStringify keeps insertion order.
 */

export type Container = 'messaging' | 'standby' | 'changes';

/** One event destined for one `entry` of a delivery. */
export interface WebhookEvent {
  /** Business IG account id (`entry.id`). */
  entryId: string;
  container: Container;
  /** A `messaging[]`/`standby[]` element, or a `changes[]` element `{value, field}`. */
  event: Record<string, unknown>;
  /** Subscription field that gates the event (messages, message_reactions, comments, …). */
  field: string;
  /** Event time (ms); for `changes` entries `entry.time` is written in seconds. */
  at: number;
}

export type ReactionName = 'love' | 'like' | 'laugh' | 'wow' | 'sad' | 'angry' | 'other';

export const REACTION_EMOJI: Record<ReactionName, string> = {
  love: '\u2764\ufe0f',
  like: '\ud83d\udc4d',
  laugh: '\ud83d\ude06',
  wow: '\ud83d\ude2e',
  sad: '\ud83d\ude22',
  angry: '\ud83d\ude21',
  other: '\ud83d\udd25',
};

export function messagingElement(
  senderId: string,
  recipientId: string,
  timestamp: number,
  key: string,
  value: unknown,
): Record<string, unknown> {
  return { sender: { id: senderId }, recipient: { id: recipientId }, timestamp, [key]: value };
}

export function attachmentPayload(
  a: AttachmentRecord,
  urlFor: (assetId: string) => string,
): Record<string, unknown> {
  const url = a.assetId ? urlFor(a.assetId) : (a.sourceUrl ?? '');
  switch (a.type) {
    case 'ig_post':
      return { type: a.type, payload: { url, title: a.title ?? '', ig_post_media_id: a.mediaId } };
    case 'ig_reel':
      return { type: a.type, payload: { reel_video_id: a.mediaId, title: a.title ?? '', url } };
    case 'ig_story':
      return { type: a.type, payload: { story_media_id: a.mediaId, story_media_url: url } };
    case 'like_heart':
      return { type: a.type };
    case 'template':
      return { type: a.type, payload: a.payload ?? {} };
    default:
      return { type: a.type, payload: { url } };
  }
}

/** The `message` object of a message/echo webhook, built from stored state. */
export function messageObject(
  m: MessageRecord,
  urlFor: (assetId: string) => string,
): Record<string, unknown> {
  const obj: Record<string, unknown> = { mid: m.mid };
  if (m.text !== undefined) obj.text = m.text;
  if (m.attachments.length)
    obj.attachments = m.attachments.map((a) => attachmentPayload(a, urlFor));
  if (m.quickReplyPayload !== undefined) obj.quick_reply = { payload: m.quickReplyPayload };
  if (m.replyToMid) obj.reply_to = { mid: m.replyToMid };
  if (m.replyToStory) {
    obj.reply_to = { story: { url: urlFor(m.replyToStory.assetId), id: m.replyToStory.id } };
  }
  if (m.referral) obj.referral = m.referral;
  if (m.isUnsupported) obj.is_unsupported = true;
  if (m.direction === 'outbound') obj.is_echo = true;
  return obj;
}

export function commentChange(
  c: CommentRecord,
  extra: { selfIgScopedId?: string; media?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const from: Record<string, unknown> = { id: c.fromId, username: c.fromUsername };
  if (extra.selfIgScopedId) from.self_ig_scoped_id = extra.selfIgScopedId;
  const media: Record<string, unknown> = c.live
    ? { id: c.mediaId }
    : { id: c.mediaId, media_product_type: c.productType, ...extra.media };
  const value: Record<string, unknown> = { from, media, id: c.id };
  if (c.parentId) value.parent_id = c.parentId;
  if (c.text !== undefined) value.text = c.text;
  return { value, field: c.live ? 'live_comments' : 'comments' };
}

/**
 * Wraps events in Meta's envelope. Consecutive events of one conversation share an entry (as in
 * batch-two-accounts.json, where other threads of the same account get their own entries). Comment-only deliveries use the `changes` key order and
 * seconds for `entry.time`.
 */
export function envelope(events: WebhookEvent[], sentAt: number): Record<string, unknown> {
  type Group = { id: string; container: Container; party: string; items: unknown[]; at: number };
  const entries: Group[] = [];
  for (const e of events) {
    const party = counterparty(e);
    const last = entries[entries.length - 1];
    if (last && last.id === e.entryId && last.container === e.container && last.party === party) {
      last.items.push(e.event);
    } else {
      entries.push({ id: e.entryId, container: e.container, party, items: [e.event], at: e.at });
    }
  }
  const onlyChanges = entries.every((e) => e.container === 'changes');
  const entry = entries.map((e, i) => {
    const ms = Math.max(sentAt, e.at) + i * 5;
    if (e.container === 'changes') {
      return { id: e.id, time: Math.floor(ms / 1000), changes: e.items };
    }
    return { time: ms, id: e.id, [e.container]: e.items };
  });
  return onlyChanges ? { entry, object: 'instagram' } : { object: 'instagram', entry };
}

/** The customer side of a messaging event; comments never share an entry. */
function counterparty(e: WebhookEvent): string {
  if (e.container === 'changes') return `change:${Math.random()}`;
  const sender = (e.event.sender as { id?: string } | undefined)?.id ?? '';
  const recipient = (e.event.recipient as { id?: string } | undefined)?.id ?? '';
  return sender === e.entryId ? recipient : sender;
}
