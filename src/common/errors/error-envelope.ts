import { HttpException, HttpStatus } from '@nestjs/common';
import { Error as MongooseError, mongo } from 'mongoose';
import { AppError } from './app-error';

export interface ErrorEnvelope {
  success: false;
  error: { code: string; message: string; details?: unknown; request_id?: string };
  /** Kept so clients of the Python service, which read `detail`, keep working. */
  detail: string;
}

export interface ErrorReply {
  status: number;
  body: ErrorEnvelope;
  headers: Record<string, string>;
}

const CODE_BY_STATUS: Record<number, string> = {
  [HttpStatus.BAD_REQUEST]: 'BAD_REQUEST',
  [HttpStatus.UNAUTHORIZED]: 'UNAUTHORIZED',
  [HttpStatus.FORBIDDEN]: 'FORBIDDEN',
  [HttpStatus.NOT_FOUND]: 'NOT_FOUND',
  [HttpStatus.METHOD_NOT_ALLOWED]: 'METHOD_NOT_ALLOWED',
  [HttpStatus.CONFLICT]: 'CONFLICT',
  [HttpStatus.GONE]: 'GONE',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'PAYLOAD_TOO_LARGE',
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'UNSUPPORTED_MEDIA_TYPE',
  [HttpStatus.UNPROCESSABLE_ENTITY]: 'UNPROCESSABLE_ENTITY',
  [HttpStatus.TOO_MANY_REQUESTS]: 'RATE_LIMITED',
  [HttpStatus.SERVICE_UNAVAILABLE]: 'SERVICE_UNAVAILABLE',
};

/** Server codes a MongoDB that is shutting down or stepping down answers with. */
const SERVER_GOING_AWAY = new Set([91, 189, 10107, 11600, 11602, 13435, 13436]);

/**
 * The database cannot be reached (down, restarting, or the connection being reopened): the
 * request may succeed as it is a few seconds later, which is what 503 says and 500 does not.
 */
function isDatabaseUnreachable(e: unknown): boolean {
  return (
    e instanceof mongo.MongoNetworkError ||
    e instanceof mongo.MongoServerSelectionError ||
    e instanceof mongo.MongoNotConnectedError ||
    e instanceof mongo.MongoTopologyClosedError ||
    e instanceof mongo.MongoClientClosedError ||
    e instanceof mongo.MongoServerClosedError ||
    e instanceof MongooseError.MongooseServerSelectionError ||
    // Not exported by the driver: a request on a pool that a reopen closed, or that the driver
    // cleared after a network error.
    (e instanceof mongo.MongoError &&
      (e.name === 'MongoPoolClosedError' || e.name === 'MongoPoolClearedError')) ||
    (e instanceof mongo.MongoServerError && SERVER_GOING_AWAY.has(Number(e.code)))
  );
}

/** Errors raised by express' body parser before Nest sees the request. */
interface BodyParserError {
  type: string;
  status?: number;
  statusCode?: number;
}
function isBodyParserError(e: unknown): e is BodyParserError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as BodyParserError).type === 'string' &&
    typeof ((e as BodyParserError).status ?? (e as BodyParserError).statusCode) === 'number'
  );
}

function envelope(
  code: string,
  message: string,
  details?: unknown,
  requestId?: string,
): ErrorEnvelope {
  return {
    success: false,
    error: {
      code,
      message,
      ...(details === undefined ? {} : { details }),
      ...(requestId === undefined ? {} : { request_id: requestId }),
    },
    detail: message,
  };
}

function httpExceptionMessage(exception: HttpException): {
  message: string;
  code?: string;
  details?: unknown;
} {
  const response = exception.getResponse();
  if (typeof response === 'string') return { message: response };
  const { message, code, details } = response as {
    message?: unknown;
    code?: unknown;
    details?: unknown;
  };
  return {
    message: Array.isArray(message)
      ? message.join('; ')
      : typeof message === 'string'
        ? message
        : exception.message,
    code: typeof code === 'string' ? code : undefined,
    details,
  };
}

/**
 * The single mapping from anything thrown to the error reply. Only errors we raised ourselves
 * reveal their message; everything else becomes a generic 500 with the request id.
 */
export function toErrorReply(exception: unknown, requestId: string): ErrorReply {
  if (exception instanceof AppError) {
    return {
      status: exception.status,
      body: envelope(exception.code, exception.message, exception.options.details),
      headers: exception.options.headers ?? {},
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const { message, code, details } = httpExceptionMessage(exception);
    const headers: Record<string, string> = {};
    if (status >= 500) {
      return {
        status,
        body: envelope(
          CODE_BY_STATUS[status] ?? 'INTERNAL_ERROR',
          'Something failed on our side',
          undefined,
          requestId,
        ),
        headers,
      };
    }
    return {
      status,
      body: envelope(code ?? CODE_BY_STATUS[status] ?? `HTTP_${status}`, message, details),
      headers,
    };
  }
  if (isDatabaseUnreachable(exception)) {
    return {
      status: HttpStatus.SERVICE_UNAVAILABLE,
      body: envelope(
        'DATABASE_UNAVAILABLE',
        'The database is unreachable; retry shortly',
        undefined,
        requestId,
      ),
      headers: { 'Retry-After': '5' },
    };
  }
  if (isBodyParserError(exception)) {
    const status = exception.status ?? exception.statusCode ?? 400;
    if (status === 413)
      return {
        status,
        body: envelope('PAYLOAD_TOO_LARGE', 'Request body is too large'),
        headers: {},
      };
    if (exception.type === 'entity.too.deep' && exception instanceof Error)
      return { status: 400, body: envelope('BAD_REQUEST', exception.message), headers: {} };
    if (status < 500)
      return {
        status,
        body: envelope('BAD_REQUEST', 'Request body is not valid JSON'),
        headers: {},
      };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    body: envelope(
      'INTERNAL_ERROR',
      'Something failed on our side; quote the request id when reporting it',
      undefined,
      requestId,
    ),
    headers: {},
  };
}
