import type { RoutedAccount } from '../accounts/accounts.types';
import { attachmentsFromGraph } from '../dms/attachments.mapping';
import type { NewDm } from '../dms/ingest/ingest.service';
import type { InstagramDm } from '../dms/schemas/instagram-dm.schema';
import type { GraphMessage } from '../instagram-graph/instagram-graph.types';
import { classifyMessage } from '../webhook/event-parser';

export type SyncSource = 'import' | 'reconcile';

/** Graph writes `2026-01-01T11:35:00+0000`; Date.parse wants the offset as `+00:00`. */
export function graphTimeMs(value: string | undefined): number | null {
  if (!value) return null;
  const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(ms) ? ms : null;
}

/** Whether Graph gave the message's details (it does for the 20 newest of a thread only). */
export function hasDetails(m: GraphMessage): boolean {
  return !!m.from?.id;
}

/** True when the business wrote the message. */
export function isOutbound(m: GraphMessage, account: Pick<RoutedAccount, 'igId'>): boolean {
  return m.from?.id === account.igId;
}

/**
 * A message read through the Conversations API, as the webhook path would have stored it: same
 * fields, the customer's IGSID as `customer_id`, the business name on the business side. `raw` is
 * Graph's message object. Null when Graph gave no sender or recipient.
 */
export function draftFromGraph(
  m: GraphMessage,
  account: RoutedAccount,
  source: SyncSource,
  opts: { fetchedAt: Date; read?: boolean },
): NewDm | null {
  const from = m.from?.id;
  const timestamp = graphTimeMs(m.created_time);
  if (!from || timestamp === null) return null;
  const outbound = from === account.igId;
  const to = m.to?.data?.find((u) => u.id !== from)?.id ?? m.to?.data?.[0]?.id;
  const customerId = outbound ? to : from;
  if (!customerId) return null;

  const text = typeof m.message === 'string' && m.message !== '' ? m.message : null;
  const attachments = attachmentsFromGraph(m, opts.fetchedAt);
  let replyTo: InstagramDm['reply_to'];
  if (m.reply_to?.mid) replyTo = { mid: m.reply_to.mid };
  if (m.story?.reply_to) {
    replyTo = {
      ...replyTo,
      story: { id: m.story.reply_to.id, url: m.story.reply_to.link },
    };
  }
  const isUnsupported = m.is_unsupported === true;
  const business = account.name ?? account.username;

  const draft: NewDm = {
    platform_account_id: account.accountId,
    user_id: account.userId,
    ig_id: account.igId,
    sender_id: from,
    recipient_id: outbound ? customerId : (to ?? account.igId),
    customer_id: customerId,
    message_id: m.id,
    text,
    timestamp,
    direction: outbound ? 'outbound' : 'inbound',
    // Not an echo: an echo webhook arriving later merges into this document and sets it.
    is_echo: false,
    read: opts.read ?? outbound,
    manual_dm: false,
    raw: m as unknown as Record<string, unknown>,
    message_type: classifyMessage({ text, attachments, replyTo, isUnsupported }),
    source,
  };
  if (attachments.length > 0) draft.attachments = attachments;
  if (replyTo) draft.reply_to = replyTo;
  if (isUnsupported) draft.is_unsupported = true;
  if (business) {
    if (outbound) draft.sender_name = business;
    else draft.recipient_name = business;
  }
  return draft;
}
