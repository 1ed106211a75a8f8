import type { Types } from 'mongoose';
import type {
  EditEvent,
  ReactionEvent,
  ReadEvent,
  UnsendEvent,
} from '../events/ingest-event.types';
import type {
  DmAttachment,
  DmSource,
  Direction,
  InstagramDm,
  MessageType,
} from '../schemas/instagram-dm.schema';

/** A message to store: from a webhook event, or from the send route (source 'send'). */
export interface NewDm {
  platform_account_id: string;
  user_id: string | null;
  ig_id?: string;
  sender_id: string;
  recipient_id: string;
  /** The customer's IGSID (recipient of outbound, sender of inbound). */
  customer_id: string;
  message_id: string;
  text?: string | null;
  /** ms */
  timestamp: number;
  direction: Direction;
  is_echo?: boolean;
  /** Default: true for outbound, false for inbound. */
  read?: boolean;
  manual_dm?: boolean;
  raw?: Record<string, unknown>;
  message_type?: MessageType;
  attachments?: DmAttachment[];
  reply_to?: InstagramDm['reply_to'];
  quick_reply?: InstagramDm['quick_reply'];
  referral?: Record<string, unknown>;
  postback?: InstagramDm['postback'];
  is_standby?: boolean;
  is_unsupported?: boolean;
  comment_id?: string;
  sender_name?: string;
  recipient_name?: string;
  source: DmSource;
  send_status?: InstagramDm['send_status'];
}

export type StoredDm = InstagramDm & { _id: Types.ObjectId };

export interface StoreResult {
  dm: StoredDm;
  created: boolean;
  /** When the thread's customer profile was last fetched (enrichment is due after a day). */
  profileFetchedAt?: Date;
  /** A text-less edit waiting for the message was applied: its text is to be read from Graph. */
  refetchMid?: string;
}

/** A message the bulk path stored, with what the worker needs to follow up. */
export interface BulkStored {
  dm: StoredDm;
  profileFetchedAt?: Date;
  refetchMid?: string;
}

/** Event kinds that target an existing message and wait on the ledger when it is not there yet. */
export type TargetEvent = EditEvent | ReactionEvent | UnsendEvent | ReadEvent;
type Strip<T> = T extends unknown ? Omit<T, 'routingIds' | 'entryId'> : never;
/** A target event as it waits on its message's ledger entry (routing stripped). */
export type PendingEntry = Strip<TargetEvent>;

/** A thread's customer profile is read from Graph again after a day. */
export const PROFILE_TTL_MS = 24 * 3600_000;

/** The customer's side of a message: they sent the inbound ones and received the outbound ones. */
export function customerNameField(
  direction: Direction | undefined,
): 'sender_name' | 'recipient_name' {
  return direction === 'outbound' ? 'recipient_name' : 'sender_name';
}
