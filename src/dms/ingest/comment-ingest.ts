import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import type { RoutedAccount } from '../../accounts/accounts.types';
import type { ApplyResult, CommentEvent } from '../events/ingest-event.types';
import { InstagramComment } from '../schemas/instagram-comment.schema';

/** Comment webhooks: each comment kept once (by its id), whichever delivery brings it first. */
@Injectable()
export class CommentIngest {
  constructor(
    @InjectModel(InstagramComment.name) private readonly comments: Model<InstagramComment>,
  ) {}

  async storeComment(event: CommentEvent, account: RoutedAccount): Promise<ApplyResult> {
    const from = event.from ?? {};
    const isOwn = !!from.self_ig_scoped_id || from.id === account.igId || from.id === event.entryId;
    const res = await this.comments
      .updateOne(
        { _id: event.commentId },
        {
          $setOnInsert: {
            user_id: account.userId,
            platform_account_id: account.accountId,
            ig_id: account.igId,
            field: event.field,
            media: event.media,
            from: event.from,
            text: event.text,
            parent_id: event.parentId,
            is_own: isOwn,
            created_at: new Date(event.timestamp),
            raw: event.raw,
          },
        },
        { upsert: true },
      )
      .exec();
    return { outcome: res.upsertedCount > 0 ? 'stored' : 'duplicate' };
  }
}
