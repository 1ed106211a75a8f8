import { HttpStatus } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';

/**
 * Meta refuses a message text over 1000 bytes of UTF-8 (code 100, after the call). Checking it
 * here saves the call, names the problem, and keeps an attachment-plus-text send from going out
 * half.
 */
export const MAX_TEXT_BYTES = 1000;

/**
 * Throws 400 TEXT_TOO_LONG when `text` is over {@link MAX_TEXT_BYTES}. 400 like every other
 * invalid body field: the caller can see it without asking Meta, and nothing was sent.
 * `field` names the text in the message (the request field on a route).
 */
export function assertTextFits(text: string, field = 'text'): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= MAX_TEXT_BYTES) return;
  throw new AppError(
    HttpStatus.BAD_REQUEST,
    'TEXT_TOO_LONG',
    `${field} is ${bytes} bytes; Instagram accepts at most ${MAX_TEXT_BYTES} bytes (UTF-8)`,
  );
}
