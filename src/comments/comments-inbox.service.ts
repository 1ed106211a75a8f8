import { Injectable } from '@nestjs/common';
import { AccountsService } from '../accounts/accounts.service';
import type { AuthUser } from '../auth/auth-user';
import { NotFoundError } from '../common/errors/app-error';
import { CommentsReadService, type StoredComment } from '../dms/comments-read.service';
import { decodeCursor, encodeCursor } from '../dms/dto/cursor';
import { countsTotal } from '../dms/dto/page-total';
import { toCommentView, type CommentView } from './comment-view';
import type { ListCommentsQueryDto } from './dto/list-comments.query';

const accountNotFound = () => new NotFoundError('ACCOUNT_NOT_FOUND', 'Account not found');
const commentNotFound = () => new NotFoundError('COMMENT_NOT_FOUND', 'Comment not found');

/**
 * The comment inbox: every method takes the caller first and reads only the caller's accounts;
 * another user's comment answers exactly like a missing one. The collection is DmsModule's, read
 * through its CommentsReadService.
 */
@Injectable()
export class CommentsInboxService {
  constructor(
    private readonly accounts: AccountsService,
    private readonly reader: CommentsReadService,
  ) {}

  async list(user: AuthUser, q: ListCommentsQueryDto) {
    const owned = await this.accounts.listOwnedAccountIds(user);
    if (q.account_id !== undefined && !owned.includes(q.account_id)) throw accountNotFound();
    const accountIds = q.account_id !== undefined ? [q.account_id] : owned;
    // Checked before anything is read, so a bad cursor is refused on every kind alike.
    const after = q.cursor !== undefined ? decodeCursor(q.cursor, 'comment') : undefined;
    const counted = countsTotal(q);
    const empty = {
      success: true as const,
      data: [] as CommentView[],
      total: counted ? 0 : null,
      limit: q.limit,
      skip: q.skip,
      next_cursor: null as string | null,
    };
    // Mentions are not stored yet (issue 17): the filter is accepted and finds nothing.
    if (q.kind === 'mention' || accountIds.length === 0) return empty;

    const { docs, total } = await this.reader.page(
      {
        accountIds,
        mediaId: q.media_id,
        author: q.author,
        answered: q.answered,
        hidden: q.hidden,
        since: q.since !== undefined ? new Date(q.since) : undefined,
        until: q.until !== undefined ? new Date(q.until) : undefined,
      },
      { after, skip: q.skip, limit: q.limit, count: counted },
    );
    const data = await this.views(docs, accountIds);
    const last = docs.at(-1);
    const nextCursor =
      docs.length === q.limit && last?.created_at instanceof Date
        ? encodeCursor({ t: last.created_at.getTime(), id: String(last._id) })
        : null;
    return { ...empty, data, total, next_cursor: nextCursor };
  }

  async get(user: AuthUser, commentId: string) {
    const owned = await this.accounts.listOwnedAccountIds(user);
    const comment = await this.reader.findOne(commentId, owned);
    if (!comment) throw commentNotFound();
    const { docs: replies, truncated } = await this.reader.replies(
      commentId,
      comment.platform_account_id,
    );
    const [view, ...replyViews] = await this.views(
      [comment, ...replies],
      [comment.platform_account_id],
    );
    return {
      success: true as const,
      data: { ...view, replies: replyViews, replies_truncated: truncated },
    };
  }

  /** The documents as views, with our first public reply of each (one query for all). */
  private async views(docs: StoredComment[], accountIds: string[]): Promise<CommentView[]> {
    const ownReplies = await this.reader.ownReplies(
      docs.map((d) => String(d._id)),
      accountIds,
    );
    const now = Date.now();
    return docs.map((d) => toCommentView(d, ownReplies.get(String(d._id)), now));
  }
}
