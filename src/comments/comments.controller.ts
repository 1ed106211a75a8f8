import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthErrors, ApiErrorReply } from '../auth/api-errors';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { CommentIdParam } from '../dms/dto/actions.dto';
import { CommentsInboxService } from './comments-inbox.service';
import { CommentListReplyDto, CommentReplyEnvelopeDto } from './dto/comment-replies.openapi';
import { ListCommentsQueryDto } from './dto/list-comments.query';

const EXAMPLE_COMMENT = {
  _id: '17890000000000003',
  kind: 'comment',
  platform_account_id: '659200000000000000000a01',
  field: 'comments',
  media: {
    id: '18000000000000103',
    media_product_type: 'AD',
    ad_id: '120200000000000001',
    ad_title: 'Spring sale - 20% off',
  },
  from: { id: '2345678901234567', username: 'test_buyer_two' },
  text: 'Link please',
  parent_id: null,
  is_own: false,
  hidden: false,
  created_at: '2026-01-01T12:00:00.000Z',
  answered: true,
  public_reply: null,
  private_reply: {
    status: 'sent',
    at: '2026-01-01T12:05:00.000Z',
    message_id: 'aWdfZAG1faXRlbToxOklH',
    dm_id: '65a1f0c2e4b0a1b2c3d4e5f6',
  },
  private_reply_until: '2026-01-08T12:00:00.000Z',
  can_reply_privately: false,
};

/** What a client does next with a listed comment (OpenAPI links). */
const COMMENT_LINKS = {
  get: {
    operationId: 'CommentsController_get',
    parameters: { comment_id: '$response.body#/data/0/_id' },
  },
  privateReply: {
    operationId: 'DmsController_commentReply',
    parameters: { comment_id: '$response.body#/data/0/_id' },
  },
};

@ApiTags('Comments')
@ApiBearerAuth()
@ApiAuthErrors()
@Controller('instagram-comments')
export class CommentsController {
  constructor(private readonly inbox: CommentsInboxService) {}

  @Get()
  @ApiOperation({
    summary: 'Comments on your media, newest first (keyset pagination with cursor)',
    description:
      "Other people's comments on your accounts' posts, reels, ads and live videos (your own " +
      'replies show as `public_reply` of what they answer, and in the replies of GET one). Each ' +
      'carries its media, author, whether it was answered in public and/or in private, and the ' +
      "7-day private-reply window. The media's permalink, caption and thumbnail are not read " +
      'from Instagram yet. `kind=mention` is accepted and answers an empty page: mentions are ' +
      'not stored yet.',
  })
  @ApiOkResponse({
    type: CommentListReplyDto,
    links: COMMENT_LINKS,
    example: {
      success: true,
      data: [EXAMPLE_COMMENT],
      total: 1,
      limit: 50,
      skip: 0,
      next_cursor: null,
    },
  })
  @ApiErrorReply(
    400,
    'VALIDATION_FAILED',
    'Validation failed: answered must be a boolean value',
    'A query parameter is unknown or malformed, or `with_total=true` comes with a `cursor` (VALIDATION_FAILED); or the cursor was not issued by the API (INVALID_CURSOR)',
  )
  @ApiErrorReply(
    404,
    'ACCOUNT_NOT_FOUND',
    'Account not found',
    'account_id is not one of your accounts',
  )
  list(@CurrentUser() user: AuthUser, @Query() query: ListCommentsQueryDto) {
    return this.inbox.list(user, query);
  }

  @Get(':comment_id')
  @ApiOperation({
    summary: 'One comment with its replies (yours and others), oldest first',
  })
  @ApiOkResponse({
    type: CommentReplyEnvelopeDto,
    example: {
      success: true,
      data: {
        ...EXAMPLE_COMMENT,
        replies: [
          {
            ...EXAMPLE_COMMENT,
            _id: '17890000000000009',
            from: { id: '17841400000000001', username: 'my_shop' },
            text: 'Sent you a DM!',
            parent_id: '17890000000000003',
            is_own: true,
            answered: false,
            private_reply: null,
            can_reply_privately: false,
          },
        ],
        replies_truncated: false,
      },
    },
  })
  @ApiErrorReply(
    400,
    'VALIDATION_FAILED',
    'Validation failed: Invalid comment ID',
    'comment_id is not a comment id',
  )
  @ApiErrorReply(
    404,
    'COMMENT_NOT_FOUND',
    'Comment not found',
    'No such comment on your accounts (another user’s comment answers alike)',
  )
  get(@CurrentUser() user: AuthUser, @Param() { comment_id }: CommentIdParam) {
    return this.inbox.get(user, comment_id);
  }
}
