import { ApiProperty } from '@nestjs/swagger';
import { TOTAL_DESCRIPTION } from '../../dms/dto/page-total';

/*
 * Reply shapes of the comment routes, for the OpenAPI document only (explicit decorators, like
 * src/dms/dto/dm-replies.openapi.ts, so every build serves the same document).
 */

export class CommentMediaDto {
  @ApiProperty({ type: String, nullable: true, example: '18000000000000103' }) id!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'AD',
    description: 'FEED, REELS, STORY, AD; absent on a live video',
  })
  media_product_type!: string | null;
  @ApiProperty({ type: String, nullable: true, example: '120200000000000001' })
  ad_id!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'Spring sale - 20% off' })
  ad_title!: string | null;
}

export class CommentAuthorDto {
  @ApiProperty({ type: String, nullable: true, example: '2345678901234567' }) id!: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'test_buyer_two' })
  username!: string | null;
}

export class PublicReplyDto {
  @ApiProperty({ example: '17890000000000009', description: 'Our reply (a comment of ours)' })
  comment_id!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) at!: string | null;
}

export class PrivateReplyDto {
  @ApiProperty({
    enum: ['sending', 'sent', 'unknown'],
    description: '`unknown`: Meta did not confirm; no second private reply is allowed',
  })
  status!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) at!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Instagram message id of the DM' })
  message_id!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The DM as stored (instagram_dms._id)',
  })
  dm_id!: string | null;
}

export class CommentDto {
  @ApiProperty({ example: '17890000000000003' }) _id!: string;
  @ApiProperty({ enum: ['comment'] }) kind!: 'comment';
  @ApiProperty({ example: '659200000000000000000a01' }) platform_account_id!: string;
  @ApiProperty({ type: String, nullable: true, enum: ['comments', 'live_comments'] })
  field!: string | null;
  @ApiProperty({ type: CommentMediaDto, nullable: true }) media!: CommentMediaDto | null;
  @ApiProperty({ type: CommentAuthorDto, nullable: true }) from!: CommentAuthorDto | null;
  @ApiProperty({ type: String, nullable: true, example: 'Link please' }) text!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The comment this one replies to' })
  parent_id!: string | null;
  @ApiProperty({ description: "The business's own comment (a public reply of ours)" })
  is_own!: boolean;
  @ApiProperty({ description: 'Hidden on Instagram (false when unknown)' }) hidden!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) created_at!: string | null;
  @ApiProperty({ description: 'Answered in public or in private' }) answered!: boolean;
  @ApiProperty({ type: PublicReplyDto, nullable: true, description: 'Our first public reply' })
  public_reply!: PublicReplyDto | null;
  @ApiProperty({ type: PrivateReplyDto, nullable: true }) private_reply!: PrivateReplyDto | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Instagram accepts a private reply until then (created_at + 7 days)',
  })
  private_reply_until!: string | null;
  @ApiProperty({
    description: 'No private reply yet, not our own comment, and the 7-day window is open',
  })
  can_reply_privately!: boolean;
}

export class CommentWithRepliesDto extends CommentDto {
  @ApiProperty({
    type: [CommentDto],
    description: 'Comments replying to it (ours and others), oldest first',
  })
  replies!: CommentDto[];
  @ApiProperty({ description: 'More than 500 replies: the newest are left out' })
  replies_truncated!: boolean;
}

export class CommentListReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: [CommentDto] }) data!: CommentDto[];
  @ApiProperty({ type: 'integer', minimum: 0, nullable: true, description: TOTAL_DESCRIPTION })
  total!: number | null;
  @ApiProperty({ type: 'integer' }) limit!: number;
  @ApiProperty({ type: 'integer' }) skip!: number;
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page' })
  next_cursor!: string | null;
}

export class CommentReplyEnvelopeDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: CommentWithRepliesDto }) data!: CommentWithRepliesDto;
}
