import type { RoutedAccount } from '../../accounts/accounts.types';
import type { ApplyResult, MessageEvent } from '../events/ingest-event.types';
import type { Direction } from '../schemas/instagram-dm.schema';
import { type NewDm, PROFILE_TTL_MS } from './ingest.types';

/** What every webhook draft of an account carries: ids, direction, the business's name. */
export function draftBase(
  event: { senderId: string; recipientId: string; timestamp: number; isStandby: boolean },
  account: RoutedAccount,
  direction: Direction,
  customerId: string,
) {
  const business = account.name ?? account.username;
  return {
    platform_account_id: account.accountId,
    user_id: account.userId,
    ig_id: account.igId,
    sender_id: event.senderId,
    recipient_id: event.recipientId,
    customer_id: customerId,
    timestamp: event.timestamp,
    direction,
    is_echo: direction === 'outbound',
    read: direction === 'outbound',
    manual_dm: false,
    source: 'webhook' as const,
    ...(event.isStandby ? { is_standby: true } : {}),
    ...(business
      ? direction === 'outbound'
        ? { sender_name: business }
        : { recipient_name: business }
      : {}),
  };
}

function isBusiness(id: string, event: { entryId: string }, account: RoutedAccount): boolean {
  return id === account.igId || id === event.entryId;
}

/** A message event as the document to store. */
export function messageDraft(event: MessageEvent, account: RoutedAccount): NewDm {
  const outbound = event.isEcho || isBusiness(event.senderId, event, account);
  const customerId = outbound ? event.recipientId : event.senderId;
  const draft: NewDm = {
    ...draftBase(event, account, outbound ? 'outbound' : 'inbound', customerId),
    message_id: event.mid,
    text: event.text,
    message_type: event.messageType,
    raw: event.raw,
  };
  draft.is_echo = event.isEcho;
  const fetchedAt = new Date();
  if (event.attachments.length > 0) {
    draft.attachments = event.attachments.map((a) => ({ ...a, url_fetched_at: fetchedAt }));
  }
  if (event.replyTo) draft.reply_to = event.replyTo;
  if (event.quickReply) draft.quick_reply = event.quickReply;
  if (event.referral) draft.referral = event.referral;
  if (event.isUnsupported) draft.is_unsupported = true;
  return draft;
}

/** A stored message's outcome; enrichment is asked for when the thread's profile is a day old. */
export function messageResult(
  customerId: string,
  created: boolean,
  profileFetchedAt: Date | undefined,
  refetchMid?: string,
): ApplyResult {
  const fresh = profileFetchedAt && Date.now() - profileFetchedAt.getTime() < PROFILE_TTL_MS;
  return {
    outcome: created ? 'stored' : 'duplicate',
    ...(fresh ? {} : { enrich: [customerId] }),
    ...(refetchMid ? { refetchMid } : {}),
  };
}
