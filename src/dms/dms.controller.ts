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
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { ApiAuthErrors, errorExample } from '../auth/api-errors';
import { Throttle } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { CommentsService } from './comments.service';
import { DmsStreamService } from './dms-stream.service';
import { DmsService } from './dms.service';
import {
  CommentIdParam,
  ConversationIdParam,
  ListConversationsQueryDto,
  ReactionDto,
  StreamQueryDto,
  TypingDto,
} from './dto/actions.dto';
import { ObjectIdPipe } from './dto/cursor';
import { DeleteDmQueryDto } from './dto/delete-dm.query';
import { ListDmsQueryDto } from './dto/list-dms.query';
import { CommentReplyDto, SendDmDto } from './dto/send-dm.dto';
import { UpdateDmDto } from './dto/update-dm.dto';
import { SEND_THROTTLE } from './user-throttler.guard';

@ApiTags('DMs')
@ApiBearerAuth()
@ApiAuthErrors()
@Controller('instagram-dms')
export class DmsController {
  constructor(
    private readonly dms: DmsService,
    private readonly comments: CommentsService,
    private readonly stream: DmsStreamService,
  ) {}

  @Get('list')
  @ApiOperation({
    summary: 'List your DMs, newest first (reference-compatible; keyset pagination with cursor)',
  })
  @ApiOkResponse({
    schema: {
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
    },
  })
  @ApiBadRequestResponse({
    example: errorExample(
      'VALIDATION_FAILED',
      'Validation failed: limit must not be greater than 100',
    ),
  })
  @ApiResponse({
    status: 403,
    description: 'user_id other than your own',
    example: errorExample('FORBIDDEN', 'You can only list your own DMs'),
  })
  @ApiNotFoundResponse({
    description: 'platform_account_id is not one of your accounts',
    example: errorExample('ACCOUNT_NOT_FOUND', 'Account not found'),
  })
  list(@CurrentUser() user: AuthUser, @Query() query: ListDmsQueryDto) {
    return this.dms.list(user, query);
  }

  @Get('conversations')
  @ApiOperation({
    summary: 'Your threads, newest activity first, with unread count and messaging window',
  })
  @ApiOkResponse({
    schema: {
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
    },
  })
  @ApiNotFoundResponse({ example: errorExample('ACCOUNT_NOT_FOUND', 'Account not found') })
  conversations(@CurrentUser() user: AuthUser, @Query() query: ListConversationsQueryDto) {
    return this.dms.listConversations(user, query);
  }

  @Get('stream')
  @ApiOperation({
    summary: 'Server-Sent Events: new and changed DMs and conversations of your accounts',
    description:
      'Events `dm`, `dm.deleted`, `conversation`; each has an id `<updated_at ms>-<_id>`. Reconnect with the ' +
      '`Last-Event-ID` header (or `?last_event_id=`) to receive everything changed since, then live events. ' +
      'A comment line is sent every 15 s.',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'text/event-stream' })
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
    schema: {
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
    },
  })
  @ApiBadRequestResponse({
    example: errorExample(
      'TEXT_TOO_LONG',
      'message_text is 1200 bytes; Instagram accepts at most 1000 bytes (UTF-8)',
    ),
  })
  @ApiNotFoundResponse({ example: errorExample('ACCOUNT_NOT_FOUND', 'Account not found') })
  @ApiConflictResponse({
    example: errorExample('ACCOUNT_REAUTH_REQUIRED', 'The Instagram account must be reconnected'),
  })
  @ApiUnprocessableEntityResponse({
    example: errorExample(
      'WINDOW_CLOSED',
      'The 24-hour messaging window closed at 2026-01-02T10:00:00.000Z. A human agent may still reply with tag HUMAN_AGENT until 2026-01-08T10:00:00.000Z (7 days).',
    ),
  })
  @ApiResponse({
    status: 502,
    description: 'Instagram did not confirm the send (it may have been delivered)',
    example: errorExample('SEND_OUTCOME_UNKNOWN', 'Instagram did not confirm the send'),
  })
  send(@CurrentUser() user: AuthUser, @Body() body: SendDmDto) {
    return this.dms.send(user, body);
  }

  @Post('comments/:comment_id/reply')
  @HttpCode(200)
  @Throttle(SEND_THROTTLE)
  @ApiOperation({ summary: 'Private reply (a DM) to a comment: once per comment, within 7 days' })
  @ApiNotFoundResponse({ example: errorExample('COMMENT_NOT_FOUND', 'Comment not found') })
  @ApiConflictResponse({
    example: errorExample('PRIVATE_REPLY_USED', 'This comment already has its private reply'),
  })
  @ApiUnprocessableEntityResponse({
    example: errorExample(
      'PRIVATE_REPLY_WINDOW_CLOSED',
      'Instagram allows a private reply within 7 days of the comment',
    ),
  })
  commentReply(
    @CurrentUser() user: AuthUser,
    @Param() { comment_id }: CommentIdParam,
    @Body() body: CommentReplyDto,
  ) {
    return this.comments.privateReply(user, comment_id, body);
  }

  @Post('conversations/:id/typing')
  @HttpCode(200)
  @ApiOperation({ summary: 'Typing indicator on or off' })
  @ApiNotFoundResponse({
    example: errorExample('CONVERSATION_NOT_FOUND', 'Conversation not found'),
  })
  typing(
    @CurrentUser() user: AuthUser,
    @Param() { id }: ConversationIdParam,
    @Body() body: TypingDto,
  ) {
    return this.dms.typing(user, id, body.on);
  }

  @Post('conversations/:id/read')
  @HttpCode(200)
  @ApiOperation({
    summary: "Mark every inbound DM of the thread read (and send Instagram's mark_seen)",
  })
  @ApiNotFoundResponse({
    example: errorExample('CONVERSATION_NOT_FOUND', 'Conversation not found'),
  })
  read(@CurrentUser() user: AuthUser, @Param() { id }: ConversationIdParam) {
    return this.dms.markConversationRead(user, id);
  }

  @Post(':id/reaction')
  @HttpCode(200)
  @ApiOperation({ summary: 'React to a DM (love or an emoji)' })
  @ApiBadRequestResponse({ example: errorExample('INVALID_ID', 'Invalid DM ID') })
  @ApiNotFoundResponse({ example: errorExample('DM_NOT_FOUND', 'DM not found') })
  react(
    @CurrentUser() user: AuthUser,
    @Param('id', new ObjectIdPipe()) id: string,
    @Body() body: ReactionDto,
  ) {
    return this.dms.react(user, id, body.reaction);
  }

  @Delete(':id/reaction')
  @ApiOperation({ summary: 'Remove your reaction from a DM' })
  @ApiBadRequestResponse({ example: errorExample('INVALID_ID', 'Invalid DM ID') })
  @ApiNotFoundResponse({ example: errorExample('DM_NOT_FOUND', 'DM not found') })
  unreact(@CurrentUser() user: AuthUser, @Param('id', new ObjectIdPipe()) id: string) {
    return this.dms.react(user, id, null);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Update a DM: text and/or the read flag (reference-compatible)' })
  @ApiOkResponse({
    schema: { example: { success: true, data: { _id: '65a1f0c2e4b0a1b2c3d4e5f6', read: true } } },
  })
  @ApiBadRequestResponse({ example: errorExample('INVALID_ID', 'Invalid DM ID') })
  @ApiNotFoundResponse({ example: errorExample('DM_NOT_FOUND', 'DM not found') })
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
  @ApiOkResponse({ schema: { example: { success: true, deleted: false, soft_deleted: true } } })
  @ApiBadRequestResponse({ example: errorExample('INVALID_ID', 'Invalid DM ID') })
  @ApiNotFoundResponse({ example: errorExample('DM_NOT_FOUND', 'DM not found') })
  remove(
    @CurrentUser() user: AuthUser,
    @Param('id', new ObjectIdPipe()) id: string,
    @Query() query: DeleteDmQueryDto,
  ) {
    return this.dms.remove(user, id, query.hard);
  }
}
