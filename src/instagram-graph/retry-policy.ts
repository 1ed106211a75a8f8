import { HttpStatus } from '@nestjs/common';
import {
  MetaApiError,
  MetaErrorBody,
  metaApiErrorFrom,
  OUTCOME_UNKNOWN_MESSAGE,
  ruleFor,
} from './meta-error';

/**
 * What a call does to Meta, which decides what may be retried:
 * - `read`: GET, always safe to repeat;
 * - `send`: POST of a message, no idempotency key, so a repeat can duplicate the DM;
 * - `idempotent`: repeating it leaves the same state (typing, seen, react, subscriptions);
 * - `once`: not a send but single-use (the OAuth code), so it is not repeated once it may have
 *   reached Meta.
 */
export type CallKind = 'read' | 'send' | 'idempotent' | 'once';

/** Why one attempt failed, before deciding to retry or what to raise. */
export type AttemptFailure =
  | { kind: 'meta'; body: MetaErrorBody; httpStatus: number }
  /** 5xx without a Graph envelope (a proxy or Meta's front end). */
  | { kind: 'server'; httpStatus: number }
  /** 2xx or 4xx we cannot read: not Meta's API talking, or a wrong path. */
  | { kind: 'bad_reply'; httpStatus: number }
  /**
   * No reply. `reachedMeta` is false when the request provably never left (connection refused,
   * DNS failure, body not yet written); a timeout or reset after the body was written is true.
   */
  | { kind: 'transport'; errorCode: string; timeout: boolean; reachedMeta: boolean };

const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

export interface TransportErrorLike {
  code?: string;
  message?: string;
  /** The Node ClientRequest axios used, when it got that far. */
  request?: { writableFinished?: boolean } | null;
  cause?: unknown;
}

/**
 * Classifies an axios transport error without keeping it: the error holds the request config,
 * Authorization header included, so it must never be logged or attached as a cause.
 */
export function transportFailure(error: TransportErrorLike): AttemptFailure {
  const causeCode =
    typeof error.cause === 'object' && error.cause !== null
      ? (error.cause as { code?: unknown }).code
      : undefined;
  const errorCode = error.code ?? (typeof causeCode === 'string' ? causeCode : 'UNKNOWN');
  const timeout =
    errorCode === 'ECONNABORTED' ||
    errorCode === 'ETIMEDOUT' ||
    /timeout/i.test(error.message ?? '');
  if (NOT_CONNECTED.has(errorCode)) {
    return { kind: 'transport', errorCode, timeout: false, reachedMeta: false };
  }
  // `writableFinished` turns true once the whole body was handed to the socket; before that Meta
  // cannot have acted on it. When unknown, assume it arrived: a lost DM is worse than a duplicate
  // warning.
  const written = error.request?.writableFinished ?? true;
  return { kind: 'transport', errorCode, timeout, reachedMeta: written };
}

/** Whether another attempt may follow this failure (the attempt budget is checked elsewhere). */
export function shouldRetry(failure: AttemptFailure, kind: CallKind): boolean {
  const repeatable = kind === 'read' || kind === 'idempotent';
  switch (failure.kind) {
    case 'meta': {
      const rule = ruleFor(failure.body.code, failure.body.error_subcode);
      switch (rule.retry) {
        case 'transient':
        case 'rate_limit':
          // Meta answered with an error it raises before acting: nothing happened.
          return true;
        case 'careful':
          return repeatable;
        case 'no':
        case 'reauth':
          return false;
      }
      return false;
    }
    case 'server':
      return repeatable;
    case 'bad_reply':
      return kind === 'read';
    case 'transport':
      return !failure.reachedMeta || repeatable;
  }
}

/** The error raised when no attempt is left (or the failure is not retryable). */
export function errorForFailure(
  failure: AttemptFailure,
  kind: CallKind,
  ctx: { retryAfterSeconds?: number } = {},
): MetaApiError {
  const send = kind === 'send';
  switch (failure.kind) {
    case 'meta':
      return metaApiErrorFrom(failure.body, { send, retryAfterSeconds: ctx.retryAfterSeconds });
    case 'server':
      return send
        ? outcomeUnknown(HttpStatus.BAD_GATEWAY)
        : new MetaApiError({
            status: HttpStatus.BAD_GATEWAY,
            code: 'META_UNAVAILABLE',
            message: `Instagram is unavailable (HTTP ${failure.httpStatus}); retry later`,
            retry: 'transient',
          });
    case 'bad_reply':
      if (send && failure.httpStatus < 300) return outcomeUnknown(HttpStatus.BAD_GATEWAY);
      return new MetaApiError({
        status: HttpStatus.BAD_GATEWAY,
        code: 'META_ERROR',
        message: `Instagram answered with an unreadable reply (HTTP ${failure.httpStatus})`,
        retry: 'no',
      });
    case 'transport':
      if (send && failure.reachedMeta) {
        return outcomeUnknown(
          failure.timeout ? HttpStatus.GATEWAY_TIMEOUT : HttpStatus.BAD_GATEWAY,
        );
      }
      if (failure.timeout && failure.reachedMeta) {
        return new MetaApiError({
          status: HttpStatus.GATEWAY_TIMEOUT,
          code: 'META_TIMEOUT',
          message: 'Instagram did not answer in time; retry later',
          retry: 'transient',
        });
      }
      return new MetaApiError({
        status: HttpStatus.BAD_GATEWAY,
        code: 'META_UNAVAILABLE',
        message: 'Instagram could not be reached; retry later',
        retry: 'transient',
      });
  }
}

function outcomeUnknown(status: HttpStatus): MetaApiError {
  return new MetaApiError({
    status,
    code: 'SEND_OUTCOME_UNKNOWN',
    message: OUTCOME_UNKNOWN_MESSAGE,
    retry: 'careful',
    outcome: 'unknown',
  });
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed so retries never bunch up at
 * zero, half is random so callers spread out. attempt 1 → [base/2, base].
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
