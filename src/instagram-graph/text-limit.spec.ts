import { AppError } from '../common/errors/app-error';
import { assertTextFits, MAX_TEXT_BYTES } from './text-limit';

describe('assertTextFits', () => {
  it('should count UTF-8 bytes, not characters: 1000 bytes pass, 1001 do not', () => {
    expect(() => assertTextFits('€'.repeat(333) + 'a')).not.toThrow(); // 999 + 1 bytes
    expect(() => assertTextFits('€'.repeat(334))).toThrow(AppError); // 1002 bytes, 334 characters
    expect(() => assertTextFits('a'.repeat(MAX_TEXT_BYTES + 1))).toThrow(AppError);
  });

  it('should answer 400 TEXT_TOO_LONG naming the field and its size', () => {
    let caught: unknown;
    try {
      assertTextFits('x'.repeat(1200), 'message_text');
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({
      status: 400,
      code: 'TEXT_TOO_LONG',
      message: 'message_text is 1200 bytes; Instagram accepts at most 1000 bytes (UTF-8)',
    });
  });
});
