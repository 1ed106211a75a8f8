import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';

/** The error envelope (src/common/errors) as an OpenAPI example. */
export function errorExample(code: string, message: string) {
  return { success: false, error: { code, message }, detail: message };
}

/** One documented error reply with its envelope example. */
export function ApiErrorReply(status: number, code: string, message: string, description: string) {
  return ApiResponse({ status, description, example: errorExample(code, message) });
}

/** What the rate limiter (UserThrottlerGuard) answers on any route but the webhook. */
export const ApiRateLimited = () =>
  ApiErrorReply(
    429,
    'RATE_LIMITED',
    'ThrottlerException: Too Many Requests',
    'Rate limited (per user; per IP on public routes); see Retry-After',
  );

/** What any route that reads or writes the database answers while the database is unreachable. */
export const ApiDatabaseUnavailable = () =>
  ApiErrorReply(
    503,
    'DATABASE_UNAVAILABLE',
    'The database is unreachable; retry shortly',
    'The database cannot be reached; see Retry-After',
  );

/** The replies every route behind the JWT guard can give: 401, 429 and 503. For a controller class. */
export const ApiAuthErrors = () =>
  applyDecorators(
    ApiErrorReply(
      401,
      'UNAUTHORIZED',
      'Missing bearer token',
      'Missing, malformed or expired bearer token',
    ),
    ApiRateLimited(),
    ApiDatabaseUnavailable(),
  );
