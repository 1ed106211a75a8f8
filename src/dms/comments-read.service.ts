import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model } from 'mongoose';
import type { Keyset } from './dto/cursor';
import { InstagramComment } from './schemas/instagram-comment.schema';

/** A stored comment as read (lean), with the timestamps mongoose adds. */
export type StoredComment = InstagramComment & {
  stored_at?: Date;
  updated_at?: Date;
  private_reply?: InstagramComment['private_reply'] & { status?: string; claimed_at?: Date };
};

/** What the comment inbox may filter on; every field but `accountIds` optional. */
export interface CommentFilter {
  /** The accounts the caller may read (already scoped by the caller's service). */
  accountIds: string[];
  mediaId?: string;
  /** The commenter's Instagram id, or their username (with or without `@`, any case). */
  author?: string;
  /** We replied in public (one of our own comments has it as parent) or in private. */
  answered?: boolean;
  hidden?: boolean;
  /** created_at ≥ since */
  since?: Date;
  /** created_at < until */
  until?: Date;
}

export interface CommentPageRequest {
  /** The last item of the previous page (newest first: the page starts after it). */
  after?: Keyset;
  skip: number;
  limit: number;
  /** Count every match into `total` (a second scan on FerretDB). */
  count: boolean;
}

/** Our first public reply under a comment. */
export interface OwnReply {
  comment_id: string;
  at: Date | null;
}

/** The most replies one read returns; a comment with more says so (`truncated`). */
export const MAX_REPLIES = 500;

/**
 * Reads of `instagram_comments` for the comment inbox (src/comments): DmsModule owns the
 * collection (its ingest and the private reply write it), so other modules read it through this
 * service only. Queries take the account ids the caller's service scoped; none takes a user.
 */
@Injectable()
export class CommentsReadService {
  constructor(
    @InjectModel(InstagramComment.name) private readonly comments: Model<InstagramComment>,
  ) {}

  /** One page, newest first (created_at, then _id), and the total when asked. */
  async page(
    filter: CommentFilter,
    req: CommentPageRequest,
  ): Promise<{ docs: StoredComment[]; total: number | null }> {
    if (filter.accountIds.length === 0) return { docs: [], total: req.count ? 0 : null };
    const query = await this.toQuery(filter);
    const pageQuery: FilterQuery<InstagramComment> = { ...query };
    if (req.after !== undefined) {
      const at = new Date(req.after.t);
      pageQuery.$and = [
        ...(query.$and ?? []),
        { created_at: { $lte: at } },
        { $or: [{ created_at: { $lt: at } }, { _id: { $lt: req.after.id } }] },
      ];
    }
    // Served by { platform_account_id, [media.id,] created_at: -1, _id: -1 }.
    const [docs, total] = await Promise.all([
      this.comments
        .find(pageQuery)
        .sort({ created_at: -1, _id: -1 })
        .skip(req.skip)
        .limit(req.limit)
        .lean<StoredComment[]>()
        .exec(),
      req.count ? this.comments.countDocuments(query).exec() : null,
    ]);
    return { docs, total };
  }

  /** The comment when it is on one of `accountIds`; null otherwise (absent or not theirs alike). */
  async findOne(id: string, accountIds: string[]): Promise<StoredComment | null> {
    if (accountIds.length === 0) return null;
    // By _id; the account check is done on the document, so the query stays an _id lookup.
    const doc = await this.comments.findOne({ _id: id }).lean<StoredComment>().exec();
    return doc && accountIds.includes(doc.platform_account_id) ? doc : null;
  }

  /** The replies of a comment on its account, oldest first, at most MAX_REPLIES. */
  async replies(
    parentId: string,
    accountId: string,
  ): Promise<{ docs: StoredComment[]; truncated: boolean }> {
    // Served by { parent_id: 1, created_at: 1, _id: 1 }.
    const docs = await this.comments
      .find({ parent_id: parentId, platform_account_id: accountId })
      .sort({ created_at: 1, _id: 1 })
      .limit(MAX_REPLIES + 1)
      .lean<StoredComment[]>()
      .exec();
    return { docs: docs.slice(0, MAX_REPLIES), truncated: docs.length > MAX_REPLIES };
  }

  /** Our first public reply under each of `parentIds` (one query for a page). */
  async ownReplies(parentIds: string[], accountIds: string[]): Promise<Map<string, OwnReply>> {
    const found = new Map<string, OwnReply>();
    if (parentIds.length === 0 || accountIds.length === 0) return found;
    // Served by { parent_id: 1, created_at: 1, _id: 1 }: oldest first, so the first one wins.
    const docs = await this.comments
      .find({ parent_id: { $in: parentIds }, is_own: true })
      .sort({ created_at: 1, _id: 1 })
      .select({ _id: 1, parent_id: 1, platform_account_id: 1, created_at: 1, stored_at: 1 })
      .lean<StoredComment[]>()
      .exec();
    for (const doc of docs) {
      if (!doc.parent_id || !accountIds.includes(doc.platform_account_id)) continue;
      if (found.has(doc.parent_id)) continue;
      found.set(doc.parent_id, {
        comment_id: String(doc._id),
        at: doc.created_at ?? doc.stored_at ?? null,
      });
    }
    return found;
  }

  private async toQuery(filter: CommentFilter): Promise<FilterQuery<InstagramComment>> {
    const { accountIds } = filter;
    // The inbox lists other people's comments: our own replies show under what they answer.
    const query: FilterQuery<InstagramComment> = {
      platform_account_id: accountIds.length === 1 ? accountIds[0] : { $in: accountIds },
      is_own: { $ne: true },
    };
    const and: FilterQuery<InstagramComment>[] = [];
    if (filter.mediaId !== undefined) query['media.id'] = filter.mediaId;
    if (filter.author !== undefined) {
      const username = filter.author.replace(/^@/, '').toLowerCase();
      and.push({ $or: [{ 'from.id': filter.author }, { 'from.username': username }] });
    }
    if (filter.hidden === true) query.hidden = true;
    if (filter.hidden === false) query.hidden = { $ne: true };
    if (filter.since !== undefined || filter.until !== undefined) {
      query.created_at = {
        ...(filter.since !== undefined ? { $gte: filter.since } : {}),
        ...(filter.until !== undefined ? { $lt: filter.until } : {}),
      };
    }
    if (filter.answered !== undefined) {
      const replied = await this.repliedParentIds(accountIds);
      if (filter.answered) {
        and.push({ $or: [{ private_reply: { $exists: true } }, { _id: { $in: replied } }] });
      } else {
        query.private_reply = { $exists: false };
        query._id = { $nin: replied };
      }
    }
    if (and.length > 0) query.$and = and;
    return query;
  }

  /**
   * The comments one of our own comments answers, on these accounts. Read whole for each
   * `answered` filter: it grows with the replies we make, not with the comments we receive.
   */
  private async repliedParentIds(accountIds: string[]): Promise<string[]> {
    // Served by { platform_account_id: 1, is_own: 1, parent_id: 1 }.
    const ids = await this.comments
      .distinct('parent_id', {
        platform_account_id: accountIds.length === 1 ? accountIds[0] : { $in: accountIds },
        is_own: true,
      })
      .exec();
    return ids.filter((id): id is string => typeof id === 'string' && id.length > 0);
  }
}
