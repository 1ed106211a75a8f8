import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsMongoId,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { IsReadableIsoDate } from '../../common/validation';

/** `?read=true|false` (and 1/0) as a boolean; anything else stays a string and fails validation. */
export const toBoolean = ({ value }: { value: unknown }): unknown => {
  if (value === 'true' || value === '1' || value === true) return true;
  if (value === 'false' || value === '0' || value === false) return false;
  return value;
};

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

export class ListDmsQueryDto {
  @ApiPropertyOptional({ example: '659200000000000000000a01', description: 'One of your accounts' })
  @IsOptional()
  @IsMongoId()
  platform_account_id?: string;

  @ApiPropertyOptional({
    description: 'Reference filter: only your own user id is accepted (403 otherwise)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  user_id?: string;

  @ApiPropertyOptional({ example: '900000000000101' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  sender_id?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(64)
  recipient_id?: string;

  @ApiPropertyOptional({ description: "The customer's IGSID: one conversation" })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  customer_id?: string;

  @ApiPropertyOptional({ enum: ['inbound', 'outbound'] })
  @IsOptional()
  @IsIn(['inbound', 'outbound'])
  direction?: 'inbound' | 'outbound';

  @ApiPropertyOptional()
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  read?: boolean;

  @ApiPropertyOptional({ enum: MESSAGE_TYPES })
  @IsOptional()
  @IsIn(MESSAGE_TYPES)
  message_type?: (typeof MESSAGE_TYPES)[number];

  @ApiPropertyOptional({ example: '2026-01-01T00:00:00Z', description: 'created_at ≥ since' })
  @IsOptional()
  @IsReadableIsoDate()
  since?: string;

  @ApiPropertyOptional({ example: '2026-02-01T00:00:00Z', description: 'created_at < until' })
  @IsOptional()
  @IsReadableIsoDate()
  until?: string;

  @ApiPropertyOptional({ default: false, description: 'Include messages the customer unsent' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  include_unsent?: boolean;

  @ApiPropertyOptional({ default: 50, maximum: 100 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 50;

  @ApiPropertyOptional({ default: 0 })
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100_000)
  skip: number = 0;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page (keyset pagination)' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}
