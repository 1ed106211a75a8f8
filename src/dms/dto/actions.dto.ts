import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import {
  BooleanQueryProperty,
  IntegerQueryProperty,
  ObjectIdProperty,
  TextProperty,
} from '../../common/api-properties';
import { COMMENT_ID_PATTERN, CONVERSATION_CURSOR_PATTERN, CONVERSATION_ID_PATTERN } from './cursor';
import { WithTotalProperty } from './page-total';

/** `<platform_account_id>:<customer_id>` */
export class ConversationIdParam {
  @ApiProperty({
    type: String,
    pattern: CONVERSATION_ID_PATTERN,
    example: '659200000000000000000a01:900000000000101',
  })
  @Matches(new RegExp(CONVERSATION_ID_PATTERN), { message: 'Invalid conversation ID' })
  id!: string;
}

export class CommentIdParam {
  @ApiProperty({ type: String, pattern: COMMENT_ID_PATTERN, example: '17858893269000001' })
  @Matches(new RegExp(COMMENT_ID_PATTERN), { message: 'Invalid comment ID' })
  comment_id!: string;
}

export class ReactionDto {
  @TextProperty({
    required: false,
    minLength: 1,
    maxLength: 32,
    default: 'love',
    example: 'love',
    description: '`love` or any single emoji',
  })
  reaction: string = 'love';
}

export class TypingDto {
  @ApiProperty({ example: true })
  @IsBoolean()
  on!: boolean;
}

export class ListConversationsQueryDto {
  @ObjectIdProperty({ required: false })
  platform_account_id?: string;

  @BooleanQueryProperty({ default: false })
  unread_only?: boolean;

  @IntegerQueryProperty({ minimum: 1, maximum: 100, default: 50 })
  limit: number = 50;

  @ApiPropertyOptional({
    type: String,
    pattern: CONVERSATION_CURSOR_PATTERN,
    maxLength: 300,
    description: '`next_cursor` of the previous page',
    example: '1767225600000.659200000000000000000a01:900000000000101',
  })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  cursor?: string;

  @WithTotalProperty()
  with_total?: boolean;
}

export class StreamQueryDto {
  @ApiPropertyOptional({
    type: String,
    maxLength: 200,
    description:
      'Same as the Last-Event-ID header: resume after this event (an id that is not one is ignored)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  last_event_id?: string;

  @ObjectIdProperty({ required: false, description: 'Only events of this account' })
  platform_account_id?: string;
}
