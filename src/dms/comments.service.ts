import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { AccountsService } from '../accounts/accounts.service';
import type { AuthUser } from '../auth/auth-user';
import { AppError, NotFoundError } from '../common/errors/app-error';
import { MetaApiError } from '../instagram-graph/meta-error';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { assertTextFits } from '../instagram-graph/text-limit';
import { DmsIngestService, type NewDm } from './ingest/ingest.service';
import { DAY_MS, serializeDm, type DmJson } from './dms.service';
import type { CommentReplyDto } from './dto/send-dm.dto';
import { InstagramComment } from './schemas/instagram-comment.schema';
import { DmLedger } from './ingest/ledger';
import { markerKey } from './ledger-keys';
import { InstagramDmId } from './schemas/instagram-dm-id.schema';

/** Meta: one private reply per comment, within 7 days, at most 750 an hour per account. */
export const PRIVATE_REPLY_WINDOW_MS = 7 * DAY_MS;
export const PRIVATE_REPLIES_PER_HOUR = 750;

interface PrivateReplyClaim {
  claimed_at: Date;
  claimed_by: string;
  status: 'sending' | 'sent' | 'unknown';
  message_id?: string;
  sent_at?: Date;
  dm_id?: string;
}

@Injectable()
export class CommentsService {
  private readonly logger = new Logger(CommentsService.name);

  constructor(
    @InjectModel(InstagramComment.name) private readonly comments: Model<InstagramComment>,
    @InjectModel(InstagramDmId.name) private readonly ledger: Model<InstagramDmId>,
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
    private readonly ingest: DmsIngestService,
    private readonly dmLedger: DmLedger,
  ) {}

  async privateReply(user: AuthUser, commentId: string, dto: CommentReplyDto) {
    assertTextFits(dto.message_text, 'message_text');
    const owned = await this.accounts.listOwnedAccountIds(user);
    const notFound = new NotFoundError('COMMENT_NOT_FOUND', 'Comment not found');
    if (!owned.includes(dto.platform_account_id)) throw notFound;
    const comment = await this.comments
      .findOne({ _id: commentId, platform_account_id: dto.platform_account_id })
      .lean<InstagramComment>()
      .exec();
    if (!comment) throw notFound;
    if (comment.private_reply) throw this.used();

    const madeAt = (comment.created_at ?? (comment as { stored_at?: Date }).stored_at)?.getTime();
    if (madeAt === undefined || Date.now() - madeAt > PRIVATE_REPLY_WINDOW_MS) {
      throw new AppError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'PRIVATE_REPLY_WINDOW_CLOSED',
        madeAt === undefined
          ? 'The comment has no date: Instagram allows a private reply only within 7 days of it'
          : `Instagram allows a private reply within 7 days of the comment; that window closed at ${new Date(madeAt + PRIVATE_REPLY_WINDOW_MS).toISOString()}`,
      );
    }
    const account = await this.accounts.getSendableAccount(user, dto.platform_account_id);

    // 750 an hour per account, counted on the claims (in flight ones included).
    // Served by { platform_account_id: 1, 'private_reply.claimed_at': -1 }.
    const hourAgo = new Date(Date.now() - 3_600_000);
    const recent = await this.comments
      .countDocuments({
        platform_account_id: account.accountId,
        'private_reply.claimed_at': { $gte: hourAgo },
      })
      .exec();
    if (recent >= PRIVATE_REPLIES_PER_HOUR) {
      throw new AppError(
        HttpStatus.TOO_MANY_REQUESTS,
        'PRIVATE_REPLY_RATE_LIMITED',
        'At most 750 private replies an hour per account',
        {
          headers: { 'Retry-After': '60' },
        },
      );
    }

    // Claim before calling Meta, by inserting a marker: FerretDB runs a conditional update of
    // two concurrent requests without locking (both would win), but an insert of an existing
    // `_id` always fails. The marker stays once Meta may have the reply (one per comment).
    const marker = markerKey(account.accountId, commentId, 'private_reply');
    if (!(await this.dmLedger.claimOnce(marker, account.accountId))) throw this.used();
    const dropMarker = () => this.ledger.collection.deleteOne({ _id: marker as never });
    const claim: PrivateReplyClaim = {
      claimed_at: new Date(),
      claimed_by: user.id,
      status: 'sending',
    };
    const claimed = await this.comments
      .findOneAndUpdate(
        {
          _id: commentId,
          platform_account_id: account.accountId,
          private_reply: { $exists: false },
        },
        { $set: { private_reply: claim } },
        { new: true },
      )
      .lean<InstagramComment>()
      .exec();
    if (!claimed) {
      await dropMarker();
      throw this.used();
    }

    let result;
    try {
      result = await this.graph.sendPrivateReply(account.graph, commentId, dto.message_text);
    } catch (error) {
      if (error instanceof MetaApiError && error.outcome === 'unknown') {
        // It may have been sent: keep the claim, so nobody sends a second one.
        await this.comments
          .updateOne({ _id: commentId }, { $set: { 'private_reply.status': 'unknown' } })
          .exec();
      } else {
        await this.comments
          .updateOne(
            { _id: commentId, 'private_reply.claimed_at': claim.claimed_at },
            { $unset: { private_reply: 1 } },
          )
          .exec();
        await dropMarker();
      }
      throw error;
    }

    const customerId = result.recipient_id ?? comment.from?.id;
    const draft: NewDm = {
      platform_account_id: account.accountId,
      ig_id: account.igId,
      user_id: user.id,
      sender_id: account.igId,
      sender_name: account.username,
      recipient_id: customerId,
      recipient_name: comment.from?.username,
      customer_id: customerId,
      message_id: result.message_id,
      text: dto.message_text,
      timestamp: Date.now(),
      is_echo: false,
      direction: 'outbound',
      read: true,
      manual_dm: true,
      message_type: 'private_reply' as const,
      comment_id: commentId,
      raw: { ...result },
      source: 'send',
      send_status: 'sent',
    };
    const { dm } = await this.ingest.storeMessage(draft);
    const stored: DmJson = serializeDm(dm as never);
    await this.comments
      .updateOne(
        { _id: commentId },
        {
          $set: {
            'private_reply.status': 'sent',
            'private_reply.message_id': result.message_id,
            'private_reply.sent_at': new Date(),
            'private_reply.dm_id': stored._id,
          },
        },
      )
      .exec();
    this.logger.log(
      { commentId, accountId: account.accountId, messageId: result.message_id },
      'private reply sent',
    );
    return { success: true as const, result, stored };
  }

  private used(): AppError {
    return new AppError(
      HttpStatus.CONFLICT,
      'PRIVATE_REPLY_USED',
      'This comment already has its private reply (Instagram allows one per comment)',
    );
  }
}
