import { HttpStatus } from '@nestjs/common';

/**
 * A domain error with a stable code the dashboard can branch on. The exception filter turns it
 * into the error envelope; its message is written for the API's user and must not carry secrets
 * or message text.
 */
export class AppError extends Error {
  constructor(
    readonly status: HttpStatus,
    readonly code: string,
    message: string,
    readonly options: { headers?: Record<string, string>; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string) {
    super(HttpStatus.NOT_FOUND, code, message);
  }
}
