import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsMongoId,
  IsNotEmpty,
  Matches,
  IsString,
  IsUrl,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/validation';

export class SendAttachmentDto {
  @ApiProperty({ enum: ['image', 'video', 'audio', 'file'], example: 'image' })
  @IsIn(['image', 'video', 'audio', 'file'])
  type!: 'image' | 'video' | 'audio' | 'file';

  @ApiProperty({
    example: 'https://cdn.example.com/catalogue.png',
    description: 'Public HTTPS URL Meta downloads',
  })
  @IsString()
  @MaxLength(2000)
  @IsUrl(
    { protocols: ['https'], require_protocol: true, require_valid_protocol: true },
    { message: 'attachment.url must be a valid https URL' },
  )
  url!: string;
}

export class SendDmDto {
  @ApiProperty({ example: '900000000000101', description: "The customer's Instagram-scoped id" })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  recipient_id!: string;

  @ApiPropertyOptional({
    example: 'Hello! Your order has shipped.',
    description: 'At most 1000 UTF-8 bytes. Optional when an attachment is given.',
  })
  @ValidateIf((o: SendDmDto) => o.attachment === undefined || o.message_text !== undefined)
  @IsString()
  @Matches(/\S/, { message: '$property must contain more than spaces' })
  @MaxLength(4000)
  message_text?: string;

  @ApiProperty({ example: '659200000000000000000a01' })
  @IsMongoId()
  platform_account_id!: string;

  @ApiPropertyOptional({ type: SendAttachmentDto })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => SendAttachmentDto)
  attachment?: SendAttachmentDto;

  @ApiPropertyOptional({
    example: 'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw',
    description: 'Quote an earlier message (its mid)',
  })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  reply_to?: string;

  @ApiPropertyOptional({
    enum: ['HUMAN_AGENT'],
    description: 'Human agent reply, allowed up to 7 days after the last customer message',
  })
  @IsOptionalNotNull()
  @IsIn(['HUMAN_AGENT'])
  tag?: 'HUMAN_AGENT';
}

export class CommentReplyDto {
  @ApiProperty({ example: '659200000000000000000a01' })
  @IsMongoId()
  platform_account_id!: string;

  @ApiProperty({ example: 'Thanks for your comment! Here is the link you asked for.' })
  @IsString()
  @Matches(/\S/, { message: '$property must contain more than spaces' })
  @MaxLength(4000)
  message_text!: string;
}
