/**
 * Typed webhook events, as produced by the webhook module's parser and consumed by
 * DmsIngestService.applyEvent. Pure data: no Meta object is passed further than `raw`.
 */

export interface ParsedAttachment {
  /** Meta's type as sent: image, video, audio, file, share, story_mention, ig_reel, ig_post, … */
  type: string;
  url?: string;
  title?: string;
  media_id?: string;
}

export type ParsedMessageType =
  | 'text'
  | 'attachment'
  | 'story_mention'
  | 'story_reply'
  | 'share'
  | 'postback'
  | 'referral'
  | 'unsupported';

interface EventBase {
  /** entry.id of the entry the event came in. */
  entryId: string;
  /** Ids to route with, in order: entry.id, recipient.id, sender.id (contracts.md). */
  routingIds: string[];
  senderId: string;
  recipientId: string;
  /** Event time in ms. */
  timestamp: number;
  /** Delivered under `entry.standby[]`. */
  isStandby: boolean;
}

export interface MessageEvent extends EventBase {
  kind: 'message';
  mid: string;
  isEcho: boolean;
  text: string | null;
  messageType: ParsedMessageType;
  attachments: ParsedAttachment[];
  replyTo?: { mid?: string; story?: { id?: string; url?: string } };
  quickReply?: { payload?: string };
  referral?: Record<string, unknown>;
  isUnsupported: boolean;
  isSelf: boolean;
  /** Meta's message object as received. */
  raw: Record<string, unknown>;
}

export interface UnsendEvent extends EventBase {
  kind: 'unsend';
  mid: string;
}

export interface EditEvent extends EventBase {
  kind: 'edit';
  mid: string;
  /** Absent on the text-less edits seen in real traffic. */
  text?: string;
  numEdit: number;
}

export interface ReactionEvent extends EventBase {
  kind: 'reaction';
  mid: string;
  action: 'react' | 'unreact';
  reaction?: string;
  emoji?: string;
}

export interface ReadEvent extends EventBase {
  kind: 'read';
  mid: string;
}

export interface PostbackEvent extends EventBase {
  kind: 'postback';
  /** postback.mid, or a synthetic `postback:<sender>:<timestamp>` when Meta sent none. */
  mid: string;
  title?: string;
  payload?: string;
  referral?: Record<string, unknown>;
  raw: Record<string, unknown>;
}

export interface ReferralEvent extends EventBase {
  kind: 'referral';
  /** Synthetic `referral:<sender>:<timestamp>`: a referral alone has no mid. */
  mid: string;
  referral: Record<string, unknown>;
}

export interface CommentEvent {
  kind: 'comment';
  entryId: string;
  routingIds: string[];
  field: 'comments' | 'live_comments';
  commentId: string;
  text?: string;
  from?: { id?: string; username?: string; self_ig_scoped_id?: string };
  media?: Record<string, unknown>;
  parentId?: string;
  /** ms (entry.time is in seconds for changes). */
  timestamp: number;
  raw: Record<string, unknown>;
}

export interface MentionEvent {
  kind: 'mention';
  entryId: string;
  routingIds: string[];
  mediaId?: string;
  commentId?: string;
  timestamp: number;
}

/** Recorded and acknowledged, nothing stored: handover, opt-in, dashboard tests, unknown shapes. */
export interface IgnoredEvent {
  kind: 'ignored';
  entryId: string;
  routingIds: string[];
  reason: 'dashboard_test' | 'handover' | 'optin' | 'unknown' | 'unsupported_field' | 'invalid';
}

export type ParsedEvent =
  | MessageEvent
  | UnsendEvent
  | EditEvent
  | ReactionEvent
  | ReadEvent
  | PostbackEvent
  | ReferralEvent
  | CommentEvent
  | MentionEvent
  | IgnoredEvent;

export type ParsedEventKind = ParsedEvent['kind'];

/** What applying one event did (counted on the delivery's result). */
export type ApplyOutcome =
  | 'stored'
  | 'duplicate'
  | 'updated'
  | 'pending'
  | 'noop'
  | 'ignored'
  | 'disabled'
  /** The account was deleted after routing: the event is kept like one for an unknown account. */
  | 'account_gone';

export interface ApplyResult {
  outcome: ApplyOutcome;
  /** Customers whose profile should be (re)fetched after this event. */
  enrich?: string[];
  /** Text-less edit with num_edit > 0: the new text must be fetched from Graph. */
  refetchMid?: string;
}
