import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsMongoId,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/validation';
import { toBoolean } from './list-dms.query';

/** `<platform_account_id>:<customer_id>` */
export class ConversationIdParam {
  @ApiProperty({ example: '659200000000000000000a01:900000000000101' })
  @Matches(/^[0-9a-f]{24}:[0-9A-Za-z_.-]{1,64}$/, { message: 'Invalid conversation ID' })
  id!: string;
}

export class CommentIdParam {
  @ApiProperty({ example: '17858893269000001' })
  @Matches(/^[0-9A-Za-z_.-]{1,64}$/, { message: 'Invalid comment ID' })
  comment_id!: string;
}

export class ReactionDto {
  @ApiPropertyOptional({
    example: 'love',
    default: 'love',
    description: '`love` or any single emoji',
  })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(32)
  reaction: string = 'love';
}

export class TypingDto {
  @ApiProperty({ example: true })
  @IsBoolean()
  on!: boolean;
}

export class ListConversationsQueryDto {
  @ApiPropertyOptional({ example: '659200000000000000000a01' })
  @IsOptional()
  @IsMongoId()
  platform_account_id?: string;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  unread_only?: boolean;

  @ApiPropertyOptional({ default: 50, maximum: 100 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 50;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(300)
  cursor?: string;
}

export class StreamQueryDto {
  @ApiPropertyOptional({ description: 'Same as the Last-Event-ID header: resume after this event' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  last_event_id?: string;

  @ApiPropertyOptional({ description: 'Only events of this account' })
  @IsOptional()
  @IsMongoId()
  platform_account_id?: string;
}
