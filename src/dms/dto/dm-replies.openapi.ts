import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { TOTAL_DESCRIPTION } from './page-total';

/*
 * Reply shapes of the DM routes, for the OpenAPI document only. Explicit decorators (not a
 * `.dto.ts` file the swagger CLI plugin would also read), so every build serves the same document.
 * A DM is the stored document as it is (reference-compatible), documents written by the Python
 * service included: only the fields every one of them has are required, and more may appear.
 */

export class DmDto {
  @ApiProperty({ example: '65a1f0c2e4b0a1b2c3d4e5f6' }) _id!: string;
  @ApiProperty({ example: '659200000000000000000a01' }) platform_account_id!: string;
  @ApiPropertyOptional({ enum: ['inbound', 'outbound'] }) direction?: string;
  @ApiPropertyOptional({ type: String, nullable: true }) text?: string | null;
  @ApiPropertyOptional({ type: Boolean }) read?: boolean;
  @ApiPropertyOptional({ type: String, description: 'Instagram message id (mid)' })
  message_id?: string;
  @ApiPropertyOptional({ type: String, description: "The customer's IGSID" })
  customer_id?: string;
  @ApiPropertyOptional({ type: String, format: 'date-time' }) created_at?: string;
}

export class DmListReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: [DmDto] }) data!: DmDto[];
  @ApiProperty({ type: 'integer', minimum: 0, nullable: true, description: TOTAL_DESCRIPTION })
  total!: number | null;
  @ApiProperty({ type: 'integer' }) limit!: number;
  @ApiProperty({ type: 'integer' }) skip!: number;
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page' })
  next_cursor!: string | null;
}

export class ConversationWindowDto {
  @ApiProperty({ description: 'The 24-hour messaging window is open' }) open!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) closes_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  human_agent_closes_at!: string | null;
}

export class ConversationDto {
  @ApiProperty({ example: '659200000000000000000a01:900000000000101' }) _id!: string;
  @ApiProperty() platform_account_id!: string;
  @ApiProperty() customer_id!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'Name and username when known',
  })
  customer!: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true })
  last_message!: Record<string, unknown> | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_message_at!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_inbound_at!: string | null;
  @ApiProperty({ type: 'integer', minimum: 0 }) unread_count!: number;
  @ApiProperty({ type: ConversationWindowDto }) window!: ConversationWindowDto;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) updated_at!: string | null;
}

export class ConversationListReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: [ConversationDto] }) data!: ConversationDto[];
  @ApiProperty({ type: 'integer', minimum: 0, nullable: true, description: TOTAL_DESCRIPTION })
  total!: number | null;
  @ApiProperty({ type: 'integer' }) limit!: number;
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page' })
  next_cursor!: string | null;
}

export class SendResultDto {
  @ApiProperty({ example: '900000000000101' }) recipient_id!: string;
  @ApiProperty({ example: 'aWdfZAG1faXRlbToxOklH' }) message_id!: string;
}

export class SentPartDto {
  @ApiProperty({ type: SendResultDto }) result!: SendResultDto;
  @ApiProperty({ type: DmDto }) stored!: DmDto;
}

export class SendReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: SendResultDto, description: 'The last message sent' })
  result!: SendResultDto;
  @ApiProperty({ type: DmDto, description: 'The last message sent, as stored' }) stored!: DmDto;
  @ApiPropertyOptional({
    type: [SentPartDto],
    description: 'Attachment and text: both messages, in the order sent',
  })
  messages?: SentPartDto[];
}

export class CommentReplyReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: SendResultDto }) result!: SendResultDto;
  @ApiProperty({ type: DmDto }) stored!: DmDto;
}

export class TypingReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty() typing!: boolean;
}

export class ReadReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Inbound DMs marked read' })
  marked!: number;
  @ApiProperty({ type: 'integer', enum: [0] }) unread_count!: number;
  @ApiProperty({ description: "Instagram's mark_seen was sent (best effort)" })
  mark_seen!: boolean;
}

export class DmReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: DmDto }) data!: DmDto;
}

export class DeletedDmReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ description: 'true: the document was removed (hard)' }) deleted!: boolean;
  @ApiPropertyOptional({ enum: [true], description: 'Present on a soft delete' })
  soft_deleted?: true;
}
