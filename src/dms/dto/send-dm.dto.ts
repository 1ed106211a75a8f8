import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsObject,
  IsString,
  IsUrl,
  Matches,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { EnumProperty, ObjectIdProperty, TextProperty } from '../../common/api-properties';
import { ApiSchemaRules } from '../../common/openapi/schema-rules';
import { IsOptionalNotNull } from '../../common/validation';
import { MAX_TEXT_BYTES } from '../../instagram-graph/text-limit';

/** An RFC 3986 path, query or fragment character: unreserved, sub-delims, `:`, `@`, %XX. */
const URL_CHAR = "([A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})";

/**
 * A public HTTPS URL with a host name: the part of @IsUrl's language a pattern can state, and
 * only URIs (so `format: uri`, which the swagger plugin derives from @IsUrl, says the same). The
 * document then says exactly which URLs are taken; IsUrl stays as the second check.
 */
export const HTTPS_URL_PATTERN =
  '^https://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}' +
  `(/(${URL_CHAR}|/)*)?(\\?(${URL_CHAR}|[/?])*)?(#(${URL_CHAR}|[/?])*)?$`;

/**
 * Contains a character that is not white space, as JavaScript's `\S` reads it (spelled out: `\S`
 * means something else to the Python and Rust readers of the document).
 */
export const NOT_BLANK_PATTERN =
  '[^\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]';

/** Instagram's limit is 1000 UTF-8 bytes (checked by the service: TEXT_TOO_LONG). */
const MESSAGE_TEXT_DOC = {
  type: String,
  pattern: NOT_BLANK_PATTERN,
  // At most 1000 bytes implies at most 1000 characters: the tightest bound JSON Schema can state.
  maxLength: MAX_TEXT_BYTES,
};

/** The message text: not blank, at most 1000 UTF-8 bytes. */
const MessageText = () =>
  applyDecorators(
    IsString(),
    Matches(new RegExp(NOT_BLANK_PATTERN), { message: '$property must contain more than spaces' }),
    // A cap on the work before the byte count; the byte limit itself answers TEXT_TOO_LONG.
    MaxLength(4000),
  );

export class SendAttachmentDto {
  @EnumProperty(['image', 'video', 'audio', 'file'] as const, { example: 'image' })
  type!: 'image' | 'video' | 'audio' | 'file';

  @TextProperty({
    maxLength: 2000,
    pattern: HTTPS_URL_PATTERN,
    format: 'uri',
    example: 'https://cdn.example.com/catalogue.png',
    description: 'Public HTTPS URL Meta downloads',
  })
  @IsUrl(
    { protocols: ['https'], require_protocol: true, require_valid_protocol: true },
    { message: 'attachment.url must be a valid https URL' },
  )
  url!: string;
}

@ApiSchemaRules({ anyOf: [{ required: ['message_text'] }, { required: ['attachment'] }] })
export class SendDmDto {
  @TextProperty({
    minLength: 1,
    maxLength: 64,
    example: '900000000000101',
    description: "The customer's Instagram-scoped id",
  })
  recipient_id!: string;

  @ApiPropertyOptional({
    ...MESSAGE_TEXT_DOC,
    example: 'Hello! Your order has shipped.',
    description: 'At most 1000 UTF-8 bytes. Optional when an attachment is given.',
  })
  @ValidateIf((o: SendDmDto) => o.attachment === undefined || o.message_text !== undefined)
  @MessageText()
  message_text?: string;

  @ObjectIdProperty()
  platform_account_id!: string;

  @ApiPropertyOptional({ type: SendAttachmentDto })
  @IsOptionalNotNull()
  // An array of attachments would pass @ValidateNested element by element.
  @IsObject()
  @ValidateNested()
  @Type(() => SendAttachmentDto)
  attachment?: SendAttachmentDto;

  @TextProperty({
    required: false,
    minLength: 1,
    maxLength: 500,
    example: 'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAw',
    description: 'Quote an earlier message (its mid)',
  })
  reply_to?: string;

  @EnumProperty(['HUMAN_AGENT'] as const, {
    required: false,
    description: 'Human agent reply, allowed up to 7 days after the last customer message',
  })
  tag?: 'HUMAN_AGENT';
}

export class CommentReplyDto {
  @ObjectIdProperty()
  platform_account_id!: string;

  @ApiProperty({
    ...MESSAGE_TEXT_DOC,
    example: 'Thanks for your comment! Here is the link you asked for.',
    description: 'At most 1000 UTF-8 bytes',
  })
  @MessageText()
  message_text!: string;
}
