/**
 * Request and reply shapes of the Meta calls igdm makes. Wire fields keep Meta's snake_case
 * names (graph-api.md, oauth.md); only shapes igdm composes itself (paging) are camelCase.
 */

/** Which Instagram professional account a call acts for. The token is plaintext: the accounts
 * module decrypts it just before the call and nothing here stores it. */
export interface GraphAccount {
  /** Instagram professional account id (`user_id` of `/me`, webhook `entry.id`). */
  igId: string;
  accessToken: string;
}

/** `GET /{igsid}?fields=…` (graph-api.md §4). */
export interface UserProfile {
  id: string;
  name: string | null;
  username: string | null;
  /** Signed CDN URL that expires within days: cache it, do not treat it as permanent. */
  profile_pic: string | null;
  follower_count: number | null;
  is_user_follow_business: boolean | null;
  is_business_follow_user: boolean | null;
  is_verified_user: boolean | null;
}

export interface SendOptions {
  /** Quote an earlier message of the thread. */
  replyToMid?: string;
  /** Reply between 24 h and 7 days after the customer's last message (needs the Human Agent feature). */
  tag?: 'HUMAN_AGENT';
}

export type AttachmentType = 'image' | 'video' | 'audio' | 'file';

export interface OutgoingAttachment {
  type: AttachmentType;
  /** Public HTTPS URL Meta downloads; see graph-api.md §2.3 for formats and sizes. */
  url: string;
}

/** Reply of `POST /{igId}/messages`; `message_id` equals the `mid` of the echo webhook. */
export interface SendResult {
  recipient_id: string;
  message_id: string;
}

export type SenderAction = 'typing_on' | 'typing_off' | 'mark_seen';

export interface SubscribedApp {
  id: string;
  name?: string;
  subscribed_fields: string[];
}

export interface AuthorizeUrlParams {
  redirectUri: string;
  scopes: readonly string[];
  state: string;
  /** Ask Instagram to show the login again even when a session exists. */
  forceReauth?: boolean;
}

/** Short-lived token from the code exchange, normalised from both shapes Meta answers with. */
export interface ShortLivedToken {
  access_token: string;
  /** Instagram account id, as a decimal string with every digit (it can exceed 2^53). */
  user_id: string;
  permissions: string[];
}

/** Reply of `ig_exchange_token` and `ig_refresh_token`. */
export interface LongLivedToken {
  access_token: string;
  token_type: string;
  /** Seconds from now (about 60 days). */
  expires_in: number;
}

/** `GET /me` (oauth.md §2.6). */
export interface InstagramMe {
  /** THE Instagram professional account id: persist this one. */
  user_id: string;
  /** App-scoped id: a different number, never use it as the account id. */
  app_scoped_id: string | null;
  username: string;
  name: string | null;
  account_type: string | null;
  profile_picture_url: string | null;
}

export interface Page<T> {
  data: T[];
  /** Pass as `after` to get the next page; null when this is the last one. */
  nextCursor: string | null;
}

export interface ListConversationsParams {
  after?: string;
  /** IGSID: only the conversation with this customer. */
  userId?: string;
  limit?: number;
}

export interface Conversation {
  id: string;
  updated_time: string;
}

export interface GraphUserRef {
  id: string;
  username?: string;
}

export interface MessageAttachment {
  id?: string;
  mime_type?: string;
  name?: string;
  file_url?: string;
  image_data?: { url?: string; preview_url?: string; width?: number; height?: number };
  video_data?: { url?: string; preview_url?: string; width?: number; height?: number };
  [extra: string]: unknown;
}

/** A message as the Conversations API returns it (fields beyond id/created_time are optional:
 * graph-api.md §5 marks several as unconfirmed on Instagram Login). */
export interface GraphMessage {
  id: string;
  created_time: string;
  from?: GraphUserRef;
  to?: { data: GraphUserRef[] };
  message?: string;
  attachments?: { data: MessageAttachment[] };
  is_unsupported?: boolean;
  story?: { reply_to?: { link?: string; id?: string }; mention?: { link?: string; id?: string } };
  shares?: { data: { link?: string; [extra: string]: unknown }[] };
  reply_to?: { mid?: string; story?: { url?: string; id?: string }; [extra: string]: unknown };
}

export interface ConversationMessagesParams {
  /** At most 20 are useful: Meta serves details for the 20 newest messages only. */
  limit?: number;
  after?: string;
}

/** Per-account Meta usage as last reported in the usage headers (percentages, 0–100+). */
export interface UsageSnapshot {
  /** `X-App-Usage`, when Meta sent it. */
  app: { call_count: number; total_cputime: number; total_time: number } | null;
  /** `X-Business-Use-Case-Usage` entries for this account. */
  businessUseCase: {
    businessId: string;
    type: string | null;
    call_count: number;
    total_cputime: number;
    total_time: number;
    estimated_time_to_regain_access: number;
  }[];
  /** Highest percentage among all of the above. */
  maxPercent: number;
  observedAt: Date | null;
  /** Calls for this account wait (or fail fast) until then. */
  blockedUntil: Date | null;
}

/** Emitted (event name {@link INSTAGRAM_TOKEN_INVALID}) when Meta says the account must reconnect. */
export interface InstagramTokenInvalidEvent {
  igId: string;
  code: number;
  subcode: number | null;
  /** Short, token-free description of the Meta error row (errors.md §2). */
  reason: string;
}

export const INSTAGRAM_TOKEN_INVALID = 'instagram.token_invalid';
