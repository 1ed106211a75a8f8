import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import {
  BooleanQueryProperty,
  EnumProperty,
  IntegerQueryProperty,
  ObjectIdProperty,
  TextProperty,
} from '../../common/api-properties';
import { IsoDateTimeProperty } from '../../common/validation';
import { COMMENT_CURSOR_PATTERN } from '../../dms/dto/cursor';
import { WithTotalProperty } from '../../dms/dto/page-total';

/** Meta's media ids are digits; letters, `_`, `.` and `-` are tolerated like comment ids. */
export const MEDIA_ID_PATTERN = '^[0-9A-Za-z_.-]{1,64}$';
/** An Instagram id (digits) or a username (letters, digits, `_`, `.`), optionally with `@`. */
export const AUTHOR_PATTERN = '^@?[0-9A-Za-z_.]{1,64}$';

export const COMMENT_KINDS = ['comment', 'mention'] as const;
export type CommentKind = (typeof COMMENT_KINDS)[number];

export class ListCommentsQueryDto {
  @ObjectIdProperty({ required: false, description: 'One of your accounts' })
  account_id?: string;

  @TextProperty({
    required: false,
    maxLength: 64,
    pattern: MEDIA_ID_PATTERN,
    example: '18000000000000103',
    description: 'Only comments on this post, reel, ad or live video (its Instagram media id)',
  })
  media_id?: string;

  @TextProperty({
    required: false,
    maxLength: 65,
    pattern: AUTHOR_PATTERN,
    example: 'test_buyer_two',
    description:
      'The commenter: their Instagram id (`from.id`) or username (`from.username`, with or without `@`, any case)',
  })
  author?: string;

  @BooleanQueryProperty({
    example: 'false',
    description:
      '`true`: answered, in public (one of your comments replies to it) or in private (a private reply was sent or is being sent); `false`: neither',
  })
  answered?: boolean;

  @BooleanQueryProperty({
    example: 'false',
    description: 'Hidden on Instagram (a comment whose state is unknown counts as not hidden)',
  })
  hidden?: boolean;

  @IsoDateTimeProperty({ example: '2026-01-01T00:00:00Z', description: 'created_at ≥ since' })
  since?: string;

  @IsoDateTimeProperty({ example: '2026-02-01T00:00:00Z', description: 'created_at < until' })
  until?: string;

  @EnumProperty(COMMENT_KINDS, {
    required: false,
    default: 'comment',
    example: 'comment',
    description:
      '`comment`: comments on your media. `mention`: comments and captions that mention your account — not stored yet, so always an empty page',
  })
  kind: CommentKind = 'comment';

  @IntegerQueryProperty({ minimum: 1, maximum: 100, default: 50 })
  limit: number = 50;

  @IntegerQueryProperty({ minimum: 0, maximum: 100_000, default: 0 })
  skip: number = 0;

  @ApiPropertyOptional({
    type: String,
    pattern: COMMENT_CURSOR_PATTERN,
    maxLength: 200,
    description: '`next_cursor` of the previous page (keyset pagination)',
    example: '1767268800000.17890000000000003',
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @WithTotalProperty()
  with_total?: boolean;
}
