import type { OwnReply, StoredComment } from '../dms/comments-read.service';
import { PRIVATE_REPLY_WINDOW_MS } from '../dms/comments.service';

/** A comment as the inbox shows it: what a person needs to answer it. */
export interface CommentView {
  _id: string;
  kind: 'comment';
  platform_account_id: string;
  /** `comments` or `live_comments` (a live video's comment). */
  field: string | null;
  /**
   * What the webhook said of the media. Its permalink, caption and thumbnail (read through the
   * Graph API once per media and cached, issue 17) are not built yet.
   */
  media: {
    id: string | null;
    media_product_type: string | null;
    ad_id: string | null;
    ad_title: string | null;
  } | null;
  from: { id: string | null; username: string | null } | null;
  text: string | null;
  parent_id: string | null;
  /** The business's own comment (a public reply of ours). */
  is_own: boolean;
  hidden: boolean;
  created_at: string | null;
  /** Answered in public or in private. */
  answered: boolean;
  /** Our first public reply under it. */
  public_reply: { comment_id: string; at: string | null } | null;
  /** The private reply (a DM): `sending` while Meta is being asked, `unknown` if Meta did not confirm. */
  private_reply: {
    status: string;
    at: string | null;
    message_id: string | null;
    dm_id: string | null;
  } | null;
  /** Meta accepts a private reply until this time (created_at + 7 days). */
  private_reply_until: string | null;
  /** No private reply yet, not our own comment, and the 7-day window is open now. */
  can_reply_privately: boolean;
}

const iso = (d: Date | null | undefined): string | null =>
  d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : null;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function toCommentView(
  doc: StoredComment,
  ownReply: OwnReply | undefined,
  now = Date.now(),
): CommentView {
  const madeAt = doc.created_at ?? doc.stored_at;
  const until = madeAt ? new Date(madeAt.getTime() + PRIVATE_REPLY_WINDOW_MS) : null;
  const pr = doc.private_reply;
  const privateReply = pr
    ? {
        status: pr.status ?? 'sent',
        at: iso(pr.sent_at ?? pr.claimed_at),
        message_id: str(pr.message_id),
        dm_id: str(pr.dm_id),
      }
    : null;
  const publicReply = ownReply ? { comment_id: ownReply.comment_id, at: iso(ownReply.at) } : null;
  const isOwn = doc.is_own === true;
  return {
    _id: String(doc._id),
    kind: 'comment',
    platform_account_id: doc.platform_account_id,
    field: doc.field ?? null,
    media: doc.media
      ? {
          id: str(doc.media.id),
          media_product_type: str(doc.media.media_product_type),
          ad_id: str(doc.media.ad_id),
          ad_title: str(doc.media.ad_title),
        }
      : null,
    from: doc.from ? { id: str(doc.from.id), username: str(doc.from.username) } : null,
    text: str(doc.text),
    parent_id: str(doc.parent_id),
    is_own: isOwn,
    hidden: doc.hidden === true,
    created_at: iso(doc.created_at),
    answered: publicReply !== null || privateReply !== null,
    public_reply: publicReply,
    private_reply: privateReply,
    private_reply_until: iso(until),
    can_reply_privately: !privateReply && !isOwn && until !== null && now < until.getTime(),
  };
}
