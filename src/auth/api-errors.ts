import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse } from '@nestjs/swagger';
import { ErrorEnvelopeDto } from '../common/errors/error-envelope.openapi';
import { MAX_DASHBOARD_BODY_BYTES } from '../common/http/body-limits';

/** The error envelope (src/common/errors) as an OpenAPI example. */
export function errorExample(code: string, message: string) {
  return { success: false, error: { code, message }, detail: message };
}

const RETRY_AFTER = {
  'Retry-After': {
    description: 'Seconds to wait before retrying (sent when the wait is known)',
    schema: { type: 'string' },
  },
};

/**
 * One documented error reply: the shared envelope schema plus an example. Several replies with
 * the same status on one route are merged by @nestjs/swagger (descriptions joined, the example of
 * the decorator written highest wins), so route-specific replies go above the shared groups.
 */
export function ApiErrorReply(
  status: number,
  code: string,
  message: string,
  description: string,
  options: { retryAfter?: boolean } = {},
) {
  return applyDecorators(
    ApiExtraModels(ErrorEnvelopeDto),
    ApiResponse({
      status,
      description,
      type: ErrorEnvelopeDto,
      example: errorExample(code, message),
      ...(options.retryAfter ? { headers: RETRY_AFTER } : {}),
    }),
  );
}

/** What the rate limiter (UserThrottlerGuard) answers on any route but the webhook. */
export const ApiRateLimited = () =>
  ApiErrorReply(
    429,
    'RATE_LIMITED',
    'ThrottlerException: Too Many Requests',
    'Rate limited (per user; per IP on public routes); see Retry-After',
    { retryAfter: true },
  );

/** What any route that reads or writes the database answers while the database is unreachable. */
export const ApiDatabaseUnavailable = () =>
  ApiErrorReply(
    503,
    'DATABASE_UNAVAILABLE',
    'The database is unreachable; retry shortly',
    'The database cannot be reached; see Retry-After',
    { retryAfter: true },
  );

/** The replies every route behind the JWT guard can give: 401, 429 and 503. For a controller class. */
export const ApiAuthErrors = () =>
  applyDecorators(
    ApiErrorReply(
      401,
      'UNAUTHORIZED',
      'Missing bearer token',
      'Missing, malformed or expired bearer token, or one whose claims are refused (no exp, lifetime over JWT_MAX_TTL, iss or aud not the configured ones); the message names the claim',
    ),
    ApiRateLimited(),
    ApiDatabaseUnavailable(),
  );

/**
 * What express' JSON body parser answers before any route code runs, for routes that take a body.
 * 400 also covers the validation pipe (unknown or malformed fields: VALIDATION_FAILED).
 */
export const ApiBodyErrors = () =>
  applyDecorators(
    ApiErrorReply(
      400,
      'VALIDATION_FAILED',
      'Validation failed: property extra should not exist',
      'The body is not valid JSON, or a field is unknown, missing or malformed (`error.details` lists them)',
    ),
    ApiErrorReply(
      413,
      'PAYLOAD_TOO_LARGE',
      'Request body is too large',
      `Body over ${MAX_DASHBOARD_BODY_BYTES / 1024} KiB`,
    ),
    ApiErrorReply(
      415,
      'BAD_REQUEST',
      'Request body is not valid JSON',
      'The body is in a charset or content encoding the JSON parser does not read',
    ),
  );

/**
 * The replies a route that calls Instagram's Graph API can pass on: Meta's error codes mapped to
 * statuses (src/instagram-graph/meta-error.ts; `error.details.meta_code` carries Meta's code), its
 * rate limits (429 + Retry-After), its outages (502/503) and timeouts (504).
 */
export const ApiInstagramErrors = () =>
  applyDecorators(
    ApiErrorReply(
      400,
      'META_INVALID_PARAMETER',
      'Instagram refused the request: invalid parameter',
      'Instagram refused a parameter (META_INVALID_PARAMETER)',
    ),
    ApiErrorReply(
      403,
      'ACCOUNT_RESTRICTED',
      'Instagram temporarily restricts this account from sending messages',
      'Instagram refuses this account the action (ACCOUNT_RESTRICTED, META_PERMISSION_DENIED, ACCOUNT_NOT_ELIGIBLE)',
    ),
    ApiErrorReply(
      404,
      'RECIPIENT_NOT_FOUND',
      'No Instagram user matches this recipient id',
      'Instagram does not know the recipient or object (RECIPIENT_NOT_FOUND, META_OBJECT_NOT_FOUND)',
    ),
    ApiErrorReply(
      409,
      'ACCOUNT_REAUTH_REQUIRED',
      'The Instagram account must be reconnected: its access was revoked or expired',
      'The account must be reconnected (ACCOUNT_REAUTH_REQUIRED, ACCOUNT_MESSAGING_DISABLED), is disabled in your settings (ACCOUNT_DISABLED), or Instagram refuses the thread (THREAD_UNAVAILABLE, NOT_THREAD_OWNER, THREAD_CONTROLLED_BY_OTHER_APP)',
    ),
    ApiErrorReply(
      410,
      'MESSAGE_DELETED',
      'The message was deleted',
      'Instagram no longer has the message (MESSAGE_DELETED)',
    ),
    ApiErrorReply(
      413,
      'ATTACHMENT_TOO_LARGE',
      'Instagram refused the request: attachment too large',
      'Instagram refuses the attachment as too large (ATTACHMENT_TOO_LARGE)',
    ),
    ApiErrorReply(
      422,
      'RECIPIENT_UNAVAILABLE',
      'This person is not receiving messages from this account right now',
      'Instagram cannot deliver this (WINDOW_CLOSED, RECIPIENT_UNAVAILABLE, INVALID_MESSAGE, ATTACHMENT_*)',
    ),
    ApiErrorReply(
      429,
      'META_RATE_LIMITED',
      'Instagram rate limit reached for this account; retry later',
      "Instagram's rate limit for the account (META_RATE_LIMITED) or igdm's own (RATE_LIMITED); see Retry-After",
      { retryAfter: true },
    ),
    ApiErrorReply(
      502,
      'META_ERROR',
      'Instagram refused the request: unrecognised Meta error',
      'Instagram failed or answered something unreadable (META_ERROR, META_UNKNOWN_ERROR, …)',
    ),
    ApiErrorReply(
      503,
      'META_UNAVAILABLE',
      'Instagram refused the request: service temporarily unavailable',
      'Instagram (META_UNAVAILABLE) or the database (DATABASE_UNAVAILABLE) is unavailable; retry shortly',
      { retryAfter: true },
    ),
    ApiErrorReply(
      504,
      'META_TIMEOUT',
      'Instagram did not answer in time',
      'Instagram did not answer within GRAPH_TIMEOUT_MS',
    ),
  );
