import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import {
  ApiAuthErrors,
  ApiBodyErrors,
  ApiErrorReply,
  ApiInstagramErrors,
} from '../auth/api-errors';
import { Throttle } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { CommentsService } from './comments.service';
import { DmsStreamService } from './dms-stream.service';
import { DmSendService } from './dm-send.service';
import { DmsService } from './dms.service';
import {
  CommentIdParam,
  ConversationIdParam,
  ListConversationsQueryDto,
  ReactionDto,
  StreamQueryDto,
  TypingDto,
} from './dto/actions.dto';
import { ApiObjectIdParam, ObjectIdPipe } from './dto/cursor';
import { DeleteDmQueryDto } from './dto/delete-dm.query';
import {
  CommentReplyReplyDto,
  ConversationListReplyDto,
  DeletedDmReplyDto,
  DmListReplyDto,
  DmReplyDto,
  ReadReplyDto,
  SendReplyDto,
  TypingReplyDto,
} from './dto/dm-replies.openapi';
import { ListDmsQueryDto } from './dto/list-dms.query';
import { CommentReplyDto, SendDmDto } from './dto/send-dm.dto';
import { UpdateDmDto } from './dto/update-dm.dto';
import { SEND_THROTTLE } from '../common/http/user-throttler.guard';

const ApiDmId = () => ApiObjectIdParam('id', 'DM id (instagram_dms._id)');
const ApiBadDmId = () =>
  ApiErrorReply(400, 'INVALID_ID', 'Invalid DM ID', 'id is not an ObjectId (INVALID_ID)');
const ApiDmNotFound = () =>
  ApiErrorReply(
    404,
    'DM_NOT_FOUND',
    'DM not found',
    'No such DM of yours (another user’s DM answers alike)',
  );
const ApiBadConversationId = () =>
  ApiErrorReply(
    400,
    'VALIDATION_FAILED',
    'Validation failed: Invalid conversation ID',
    'id is not `<platform_account_id>:<customer_id>`',
  );
const ApiConversationNotFound = () =>
  ApiErrorReply(
    404,
    'CONVERSATION_NOT_FOUND',
    'Conversation not found',
    'No such conversation of yours (another user’s answers alike)',
  );
const ApiAccountNotFound = (what = 'platform_account_id') =>
  ApiErrorReply(
    404,
    'ACCOUNT_NOT_FOUND',
    'Account not found',
    `${what} is not one of your accounts`,
  );
const ApiNotReactable = () =>
  ApiErrorReply(
    422,
    'NOT_REACTABLE',
    'This DM has no Instagram message id to react to',
    'The DM has no Instagram message id (NOT_REACTABLE)',
  );
const ApiBadQuery = (example: string, description: string) =>
  ApiErrorReply(400, 'VALIDATION_FAILED', example, description);

/** What a client does next with a listed item (OpenAPI links, also followed by API fuzzers). */
const firstItem = (field: string) => `$response.body#/data/0/${field}`;
const DM_LINKS = {
  ...Object.fromEntries(
    ['update', 'remove', 'react', 'unreact'].map((op) => [
      op,
      { operationId: `DmsController_${op}`, parameters: { id: firstItem('_id') } },
    ]),
  ),
  attachment: {
    operationId: 'AttachmentsController_open',
    parameters: { id: firstItem('_id'), n: 0 },
  },
};
const CONVERSATION_LINKS = Object.fromEntries(
  ['typing', 'read'].map((op) => [
    op,
    { operationId: `DmsController_${op}`, parameters: { id: firstItem('_id') } },
  ]),
);

@ApiTags('DMs')
@ApiBearerAuth()
@ApiAuthErrors()
@Controller('instagram-dms')
export class DmsController {
  constructor(
    private readonly dms: DmsService,
    private readonly dmSend: DmSendService,
    private readonly comments: CommentsService,
    private readonly stream: DmsStreamService,
  ) {}

  @Get('list')
  @ApiOperation({
    summary: 'List your DMs, newest first (reference-compatible; keyset pagination with cursor)',
  })
  @ApiOkResponse({
    type: DmListReplyDto,
    links: DM_LINKS,
    example: {
      success: true,
      data: [
        {
          _id: '65a1f0c2e4b0a1b2c3d4e5f6',
          platform_account_id: '659200000000000000000a01',
          direction: 'inbound',
          text: 'Hi!',
          read: false,
        },
      ],
      total: 1,
      limit: 50,
      skip: 0,
      next_cursor: null,
    },
  })
  @ApiBadQuery(
    'Validation failed: limit must not be greater than 100',
    'A query parameter is unknown or malformed, or `with_total=true` comes with a `cursor` (VALIDATION_FAILED); or the cursor was not issued by the API (INVALID_CURSOR)',
  )
  @ApiErrorReply(403, 'FORBIDDEN', 'You can only list your own DMs', 'user_id other than your own')
  @ApiAccountNotFound()
  list(@CurrentUser() user: AuthUser, @Query() query: ListDmsQueryDto) {
    return this.dms.list(user, query);
  }

  @Get('conversations')
  @ApiOperation({
    summary: 'Your threads, newest activity first, with unread count and messaging window',
  })
  @ApiOkResponse({
    type: ConversationListReplyDto,
    links: CONVERSATION_LINKS,
    example: {
      success: true,
      data: [
        {
          _id: '659200000000000000000a01:900000000000101',
          customer_id: '900000000000101',
          customer: { name: 'Alice', username: 'alice' },
          last_message: { preview: 'Hi!', direction: 'inbound' },
          unread_count: 1,
          window: { open: true, closes_at: '2026-01-02T10:00:00.000Z' },
        },
      ],
      total: 1,
      limit: 50,
      next_cursor: null,
    },
  })
  @ApiBadQuery(
    'Validation failed: limit must not be greater than 100',
    'A query parameter is unknown or malformed, or `with_total=true` comes with a `cursor` (VALIDATION_FAILED); or the cursor was not issued by the API (INVALID_CURSOR)',
  )
  @ApiAccountNotFound()
  conversations(@CurrentUser() user: AuthUser, @Query() query: ListConversationsQueryDto) {
    return this.dms.listConversations(user, query);
  }

  @Get('stream')
  @ApiOperation({
    summary: 'Server-Sent Events: new and changed DMs and conversations of your accounts',
    description:
      'Events `dm`, `dm.deleted`, `conversation`; each has an id `<updated_at ms>-<_id>`. Reconnect with the ' +
      '`Last-Event-ID` header (or `?last_event_id=`) to receive everything changed since, then live events. ' +
      'A comment line is sent every 15 s. When more changed since than one resume replays ' +
      '(DMS_STREAM_REPLAY_MAX), `resync` (`{"reason":"replay_limit"}`) comes instead: reload the lists, keep ' +
      'the stream. `stream.end` (`{"reason":"account_removed"|"token_expired"}`) is the last event of a stream ' +
      'whose account was removed or whose token expired. A user holds at most DMS_STREAM_MAX_PER_USER streams ' +
      'at once per server.',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume after this event (an id that is not one is ignored)',
    schema: { type: 'string' },
  })
  @ApiOkResponse({
    description: 'The event stream, open until the client leaves',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiBadQuery(
    'Validation failed: platform_account_id must be a mongodb id',
    'A query parameter is unknown or malformed',
  )
  @ApiAccountNotFound()
  @ApiErrorReply(
    429,
    'TOO_MANY_STREAMS',
    'At most 5 live streams per user are open at once; close one or retry later',
    'Too many streams of this user open at once (DMS_STREAM_MAX_PER_USER); see Retry-After',
    { retryAfter: true },
  )
  async streamEvents(
    @CurrentUser() user: AuthUser,
    @Query() query: StreamQueryDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.stream.open(user, req, res, {
      lastEventId: lastEventId ?? query.last_event_id,
      accountId: query.platform_account_id,
    });
  }

  @Post('send')
  @HttpCode(200)
  @Throttle(SEND_THROTTLE)
  @ApiOperation({
    summary: 'Send a DM (text, attachment, reply, HUMAN_AGENT tag) within the messaging window',
  })
  @ApiOkResponse({
    type: SendReplyDto,
    example: {
      success: true,
      result: { recipient_id: '900000000000101', message_id: 'aWdfZAG1faXRlbToxOklH' },
      stored: {
        _id: '65a1f0c2e4b0a1b2c3d4e5f6',
        direction: 'outbound',
        manual_dm: true,
        text: 'Hello!',
      },
    },
  })
  @ApiErrorReply(
    400,
    'TEXT_TOO_LONG',
    'message_text is 1200 bytes; Instagram accepts at most 1000 bytes (UTF-8)',
    'message_text over 1000 UTF-8 bytes (TEXT_TOO_LONG)',
  )
  @ApiAccountNotFound()
  @ApiErrorReply(
    409,
    'ACCOUNT_REAUTH_REQUIRED',
    'The Instagram account must be reconnected',
    'The account is disabled in your settings (ACCOUNT_DISABLED) or must be reconnected',
  )
  @ApiErrorReply(
    422,
    'WINDOW_CLOSED',
    'The 24-hour messaging window closed at 2026-01-02T10:00:00.000Z. A human agent may still reply with tag HUMAN_AGENT until 2026-01-08T10:00:00.000Z (7 days).',
    'The customer has not written within 24 hours (7 days with tag HUMAN_AGENT), or never',
  )
  @ApiErrorReply(
    502,
    'SEND_OUTCOME_UNKNOWN',
    'Instagram did not confirm the send',
    'Instagram did not confirm the send: it may have been delivered (SEND_OUTCOME_UNKNOWN); the attachment went out but not the text (PARTIAL_SEND)',
  )
  @ApiBodyErrors()
  @ApiInstagramErrors()
  send(@CurrentUser() user: AuthUser, @Body() body: SendDmDto) {
    return this.dmSend.send(user, body);
  }

  @Post('comments/:comment_id/reply')
  @HttpCode(200)
  @ApiOkResponse({ type: CommentReplyReplyDto })
  @Throttle(SEND_THROTTLE)
  @ApiOperation({ summary: 'Private reply (a DM) to a comment: once per comment, within 7 days' })
  @ApiErrorReply(
    400,
    'TEXT_TOO_LONG',
    'message_text is 1200 bytes; Instagram accepts at most 1000 bytes (UTF-8)',
    'comment_id malformed, or message_text over 1000 UTF-8 bytes (TEXT_TOO_LONG)',
  )
  @ApiErrorReply(
    404,
    'COMMENT_NOT_FOUND',
    'Comment not found',
    'No such comment on your account (platform_account_id not yours answers alike)',
  )
  @ApiErrorReply(
    409,
    'PRIVATE_REPLY_USED',
    'This comment already has its private reply',
    'The comment already has its private reply (PRIVATE_REPLY_USED)',
  )
  @ApiErrorReply(
    422,
    'PRIVATE_REPLY_WINDOW_CLOSED',
    'Instagram allows a private reply within 7 days of the comment',
    'The comment is older than 7 days (PRIVATE_REPLY_WINDOW_CLOSED)',
  )
  @ApiErrorReply(
    429,
    'PRIVATE_REPLY_RATE_LIMITED',
    'At most 750 private replies an hour per account',
    'The account used its 750 private replies of the hour; see Retry-After',
    { retryAfter: true },
  )
  @ApiBodyErrors()
  @ApiInstagramErrors()
  commentReply(
    @CurrentUser() user: AuthUser,
    @Param() { comment_id }: CommentIdParam,
    @Body() body: CommentReplyDto,
  ) {
    return this.comments.privateReply(user, comment_id, body);
  }

  @Post('conversations/:id/typing')
  @HttpCode(200)
  @ApiOkResponse({ type: TypingReplyDto })
  @ApiOperation({ summary: 'Typing indicator on or off' })
  @ApiBadConversationId()
  @ApiConversationNotFound()
  @ApiBodyErrors()
  @ApiInstagramErrors()
  typing(
    @CurrentUser() user: AuthUser,
    @Param() { id }: ConversationIdParam,
    @Body() body: TypingDto,
  ) {
    return this.dms.typing(user, id, body.on);
  }

  @Post('conversations/:id/read')
  @HttpCode(200)
  @ApiOkResponse({ type: ReadReplyDto })
  @ApiOperation({
    summary: "Mark every inbound DM of the thread read (and send Instagram's mark_seen)",
  })
  @ApiBadConversationId()
  @ApiConversationNotFound()
  read(@CurrentUser() user: AuthUser, @Param() { id }: ConversationIdParam) {
    return this.dms.markConversationRead(user, id);
  }

  @Post(':id/reaction')
  @HttpCode(200)
  @ApiOkResponse({ type: DmReplyDto })
  @ApiOperation({ summary: 'React to a DM (love or an emoji)' })
  @ApiDmId()
  // Optional: without a body the reaction is `love`.
  @ApiBody({ type: ReactionDto, required: false })
  @ApiBadDmId()
  @ApiDmNotFound()
  @ApiNotReactable()
  @ApiBodyErrors()
  @ApiInstagramErrors()
  react(
    @CurrentUser() user: AuthUser,
    @Param('id', new ObjectIdPipe()) id: string,
    @Body() body: ReactionDto,
  ) {
    return this.dms.react(user, id, body.reaction);
  }

  @Delete(':id/reaction')
  @ApiOkResponse({ type: DmReplyDto })
  @ApiOperation({ summary: 'Remove your reaction from a DM' })
  @ApiDmId()
  @ApiBadDmId()
  @ApiDmNotFound()
  @ApiNotReactable()
  @ApiInstagramErrors()
  unreact(@CurrentUser() user: AuthUser, @Param('id', new ObjectIdPipe()) id: string) {
    return this.dms.react(user, id, null);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Update a DM: text and/or the read flag (reference-compatible)' })
  @ApiOkResponse({ type: DmReplyDto })
  @ApiDmId()
  @ApiErrorReply(
    400,
    'NO_UPDATE_FIELDS',
    'No update fields provided',
    'id is not an ObjectId (INVALID_ID), or no field to update (NO_UPDATE_FIELDS)',
  )
  @ApiDmNotFound()
  @ApiBodyErrors()
  update(
    @CurrentUser() user: AuthUser,
    @Param('id', new ObjectIdPipe()) id: string,
    @Body() body: UpdateDmDto,
  ) {
    return this.dms.update(user, id, body);
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Delete a DM: soft by default, hard with ?hard=true (reference-compatible)',
  })
  @ApiOkResponse({
    type: DeletedDmReplyDto,
    example: { success: true, deleted: false, soft_deleted: true },
  })
  @ApiDmId()
  @ApiErrorReply(
    400,
    'INVALID_ID',
    'Invalid DM ID',
    'id is not an ObjectId (INVALID_ID), or `hard` is not a boolean (VALIDATION_FAILED)',
  )
  @ApiDmNotFound()
  remove(
    @CurrentUser() user: AuthUser,
    @Param('id', new ObjectIdPipe()) id: string,
    @Query() query: DeleteDmQueryDto,
  ) {
    return this.dms.remove(user, id, query.hard);
  }
}
