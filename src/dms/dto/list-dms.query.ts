import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import {
  BooleanQueryProperty,
  EnumProperty,
  IntegerQueryProperty,
  ObjectIdProperty,
} from '../../common/api-properties';
import { IsoDateTimeProperty } from '../../common/validation';
import { DM_CURSOR_PATTERN } from './cursor';
import { WithTotalProperty } from './page-total';

export const MESSAGE_TYPES = [
  'text',
  'attachment',
  'story_mention',
  'story_reply',
  'share',
  'postback',
  'referral',
  'unsupported',
  'private_reply',
] as const;

/** An optional free-text filter of at most `max` characters. */
const TextFilter = (max: number, options: { description?: string; example?: string } = {}) =>
  applyDecorators(
    ApiPropertyOptional({ type: String, maxLength: max, ...options }),
    IsOptional(),
    IsString(),
    MaxLength(max),
  );

export class ListDmsQueryDto {
  @ObjectIdProperty({ required: false, description: 'One of your accounts' })
  platform_account_id?: string;

  @TextFilter(200, {
    description: 'Reference filter: only your own user id is accepted (403 otherwise)',
  })
  user_id?: string;

  @TextFilter(64, { example: '900000000000101' })
  sender_id?: string;

  @TextFilter(64)
  recipient_id?: string;

  @TextFilter(64, { description: "The customer's IGSID: one conversation" })
  customer_id?: string;

  @EnumProperty(['inbound', 'outbound'] as const, { required: false })
  direction?: 'inbound' | 'outbound';

  @BooleanQueryProperty()
  read?: boolean;

  @EnumProperty(MESSAGE_TYPES, { required: false })
  message_type?: (typeof MESSAGE_TYPES)[number];

  @IsoDateTimeProperty({ example: '2026-01-01T00:00:00Z', description: 'created_at ≥ since' })
  since?: string;

  @IsoDateTimeProperty({ example: '2026-02-01T00:00:00Z', description: 'created_at < until' })
  until?: string;

  @BooleanQueryProperty({ default: false, description: 'Include messages the customer unsent' })
  include_unsent?: boolean;

  @IntegerQueryProperty({ minimum: 1, maximum: 100, default: 50 })
  limit: number = 50;

  @IntegerQueryProperty({ minimum: 0, maximum: 100_000, default: 0 })
  skip: number = 0;

  @ApiPropertyOptional({
    type: String,
    pattern: DM_CURSOR_PATTERN,
    maxLength: 200,
    description: '`next_cursor` of the previous page (keyset pagination)',
    example: '1767225600000.65a1f0c2e4b0a1b2c3d4e5f6',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @WithTotalProperty()
  with_total?: boolean;
}
