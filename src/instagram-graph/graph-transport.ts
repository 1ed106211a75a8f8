import { HttpService } from '@nestjs/axios';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AxiosResponse } from 'axios';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { firstValueFrom } from 'rxjs';
import type { AppConfig } from '../config/app-config';
import { parseGraphJson } from './graph-json';
import { GRAPH_TUNING } from './graph-tuning';
import type { GraphTuning } from './graph-tuning';
import {
  INSTAGRAM_TOKEN_INVALID,
  InstagramTokenInvalidEvent,
  UsageSnapshot,
} from './instagram-graph.types';
import {
  MetaApiError,
  metaErrorBodyOf,
  oauthCodeInvalid,
  OAuthErrorBody,
  oauthErrorBodyOf,
  ruleFor,
} from './meta-error';
import { GraphRateLimiter, parseUsageHeaders, regainMinutes } from './rate-limiter';
import {
  AttemptFailure,
  backoffDelay,
  CallKind,
  errorForFailure,
  shouldRetry,
  TransportErrorLike,
  transportFailure,
} from './retry-policy';

type HttpMethod = 'GET' | 'POST' | 'DELETE';

/**
 * Which of Meta's URL roots a path hangs off:
 * - `versioned`: `INSTAGRAM_GRAPH_URL/<version>`, almost every endpoint;
 * - `graph`: `INSTAGRAM_GRAPH_URL` without a version, the long-lived token exchange and refresh;
 * - `api`: `INSTAGRAM_API_URL`, the OAuth code exchange.
 */
export type GraphBase = 'versioned' | 'graph' | 'api';

export interface GraphRequest {
  method: HttpMethod;
  /** Defaults to `versioned`. */
  base?: GraphBase;
  /** Path under the base, ids encoded by {@link pathSegment}. Never logged: `template` is. */
  path: string;
  /** Path with placeholders, e.g. `POST /{igId}/messages`; the only form of the path in logs. */
  template: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  /** Sent as `Authorization: Bearer`, so it never appears in a URL. */
  token?: string;
  /** Account the call acts for: its usage state and its token-invalid event. */
  igId?: string;
  kind: CallKind;
  /** The code exchange answers errors in its own envelope (oauth.md §2.3). */
  oauthEnvelope?: boolean;
}

/**
 * Turns a 2xx body into the endpoint's result; null means the reply is not what the endpoint
 * expects, which the transport treats as an unreadable reply (retried for reads only).
 */
export type ReplyReader<T> = (body: unknown) => T | null;

type AttemptResult<T> =
  | { ok: true; value: T; status: number }
  | {
      ok: false;
      failure: AttemptFailure;
      headers: Record<string, unknown>;
      oauth?: OAuthErrorBody;
    };

/** An id or other caller value as one path segment: it must not be able to change the route. */
export function pathSegment(id: string): string {
  return encodeURIComponent(id);
}

/** A configured base URL without its trailing slashes, so paths append with a single `/`. */
export function stripTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One request to Meta → the reader's value or a {@link MetaApiError}. Usage headers throttle each
 * account separately; reads and failures that provably did nothing are retried, a send that may
 * have reached Meta never is. A token Meta declares invalid raises `instagram.token_invalid`.
 */
@Injectable()
export class GraphTransport {
  private readonly baseUrls: Record<GraphBase, string>;
  private readonly limiter: GraphRateLimiter;

  constructor(
    private readonly http: HttpService,
    @Inject(ConfigService) config: AppConfig,
    private readonly events: EventEmitter2,
    @InjectPinoLogger(GraphTransport.name) private readonly logger: PinoLogger,
    @Inject(GRAPH_TUNING) private readonly tuning: GraphTuning,
  ) {
    const graphUrl = stripTrailingSlash(config.get('INSTAGRAM_GRAPH_URL', { infer: true }));
    this.baseUrls = {
      versioned: `${graphUrl}/${config.get('INSTAGRAM_API_VERSION', { infer: true })}`,
      graph: graphUrl,
      api: stripTrailingSlash(config.get('INSTAGRAM_API_URL', { infer: true })),
    };
    this.limiter = new GraphRateLimiter(tuning);
  }

  /** Last usage Meta reported for the account, or null when none was seen yet. */
  usageFor(igId: string): UsageSnapshot | null {
    return this.limiter.snapshot(igId);
  }

  /** When a call for the account last succeeded (in this process). */
  lastSuccessAt(igId: string): Date | null {
    return this.limiter.lastSuccessAt(igId);
  }

  async call<T>(spec: GraphRequest, read: ReplyReader<T>): Promise<T> {
    const maxAttempts = Math.max(1, this.tuning.maxAttempts);
    let failure: AttemptFailure | undefined;
    let oauth: OAuthErrorBody | undefined;
    let retryAfterSeconds: number | undefined;

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (spec.igId) await this.waitForAccount(spec, spec.igId, failure, retryAfterSeconds);
      const started = Date.now();
      const result = await this.attempt(spec, read);
      const ms = Date.now() - started;

      if (result.ok) {
        if (spec.igId) this.limiter.noteSuccess(spec.igId);
        this.logger.debug(
          {
            method: spec.method,
            path: spec.template,
            igId: spec.igId,
            status: result.status,
            ms,
            attempt,
          },
          'graph call',
        );
        return result.value;
      }

      failure = result.failure;
      oauth = result.oauth;
      const rateLimited = isRateLimit(failure);
      // Without an account to park, a rate-limited call waits here (bounded) before its retry.
      let localWaitMs = 0;
      if (rateLimited && spec.igId) {
        retryAfterSeconds = this.limiter.noteRateLimited(spec.igId);
      } else if (rateLimited) {
        const regain = regainMinutes(parseUsageHeaders(result.headers));
        localWaitMs =
          regain > 0
            ? regain * 60_000
            : backoffDelay(attempt, this.tuning.rateLimitBaseMs, this.tuning.rateLimitMaxMs);
        retryAfterSeconds = Math.max(1, Math.ceil(localWaitMs / 1000));
      } else {
        retryAfterSeconds = undefined;
      }
      const retrying =
        !oauth &&
        attempt < maxAttempts &&
        shouldRetry(failure, spec.kind) &&
        localWaitMs <= this.tuning.maxWaitMs;
      this.logger.warn(
        {
          method: spec.method,
          path: spec.template,
          igId: spec.igId,
          ms,
          attempt,
          retrying,
          ...failureLog(failure),
        },
        'graph call failed',
      );
      if (!retrying) break;
      // With an account, a rate limit's wait is in the limiter and waitForAccount applies it.
      if (!rateLimited) {
        await sleep(backoffDelay(attempt, this.tuning.retryBaseMs, this.tuning.retryMaxMs));
      } else if (localWaitMs > 0) {
        await sleep(localWaitMs);
      }
    }

    if (oauth) throw oauthCodeInvalid(oauth);
    throw this.finalError(spec, failure!, retryAfterSeconds);
  }

  /** Applies the account's throttle before an attempt, or fails fast when the wait is too long. */
  private async waitForAccount(
    spec: GraphRequest,
    igId: string,
    lastFailure: AttemptFailure | undefined,
    lastRetryAfter: number | undefined,
  ): Promise<void> {
    const plan = this.limiter.plan(igId);
    if (plan.action === 'fail') {
      this.logger.warn(
        {
          method: spec.method,
          path: spec.template,
          igId,
          retryAfterSeconds: plan.retryAfterSeconds,
        },
        'graph call not sent: account rate limited',
      );
      if (lastFailure && isRateLimit(lastFailure)) {
        throw this.finalError(
          spec,
          lastFailure,
          Math.max(plan.retryAfterSeconds, lastRetryAfter ?? 0),
        );
      }
      throw new MetaApiError({
        status: HttpStatus.TOO_MANY_REQUESTS,
        code: 'META_RATE_LIMITED',
        message: 'Instagram rate limit reached for this account; retry later',
        retry: 'rate_limit',
        retryAfterSeconds: plan.retryAfterSeconds,
      });
    }
    if (plan.waitMs > 0) {
      this.logger.debug(
        { method: spec.method, path: spec.template, igId, waitMs: plan.waitMs },
        'graph call throttled',
      );
      await sleep(plan.waitMs);
    }
  }

  private finalError(
    spec: GraphRequest,
    failure: AttemptFailure,
    retryAfterSeconds?: number,
  ): MetaApiError {
    const error = errorForFailure(failure, spec.kind, { retryAfterSeconds });
    if (error.reauthRequired && spec.igId && error.metaCode !== null) {
      const event: InstagramTokenInvalidEvent = {
        igId: spec.igId,
        code: error.metaCode,
        subcode: error.metaSubcode,
        reason: ruleFor(error.metaCode, error.metaSubcode).meaning,
      };
      try {
        this.events.emit(INSTAGRAM_TOKEN_INVALID, event);
      } catch (listenerError) {
        // A failing listener must not replace the Meta error the caller needs to see.
        this.logger.error({ err: listenerError, igId: spec.igId }, 'token-invalid listener failed');
      }
    }
    return error;
  }

  private async attempt<T>(spec: GraphRequest, read: ReplyReader<T>): Promise<AttemptResult<T>> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (spec.token) headers.Authorization = `Bearer ${spec.token}`;
    let data: string | undefined;
    if (spec.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      data = JSON.stringify(spec.json);
    } else if (spec.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      data = new URLSearchParams(spec.form).toString();
    }
    const params = spec.query
      ? Object.fromEntries(Object.entries(spec.query).filter(([, v]) => v !== undefined))
      : undefined;

    let res: AxiosResponse<string>;
    try {
      res = await firstValueFrom(
        this.http.request<string>({
          method: spec.method,
          url: `${this.baseUrls[spec.base ?? 'versioned']}${spec.path}`,
          params,
          data,
          headers,
          responseType: 'text',
          // Keep the raw text: ids in it may not survive JSON.parse.
          transformResponse: (raw: unknown) => raw,
          validateStatus: () => true,
        }),
      );
    } catch (error) {
      // The axios error carries the request config (Authorization included): classify and drop it.
      return { ok: false, failure: transportFailure(error as TransportErrorLike), headers: {} };
    }

    const replyHeaders = { ...(res.headers as Record<string, unknown>) };
    if (spec.igId) this.limiter.observe(spec.igId, replyHeaders);
    const text = typeof res.data === 'string' ? res.data : '';
    const body = parseGraphJson(text);
    const metaError = metaErrorBodyOf(body);
    const fail = (failure: AttemptFailure, oauth?: OAuthErrorBody): AttemptResult<T> => ({
      ok: false,
      failure,
      headers: replyHeaders,
      oauth,
    });

    if (metaError) {
      if (!metaError.fbtrace_id && typeof replyHeaders['x-fb-trace-id'] === 'string') {
        metaError.fbtrace_id = replyHeaders['x-fb-trace-id'];
      }
      return fail({ kind: 'meta', body: metaError, httpStatus: res.status });
    }
    if (res.status >= 200 && res.status < 300) {
      const value = body === undefined ? null : read(body);
      return value === null
        ? fail({ kind: 'bad_reply', httpStatus: res.status })
        : { ok: true, value, status: res.status };
    }
    if (spec.oauthEnvelope && res.status < 500) {
      const oauth = oauthErrorBodyOf(body);
      if (oauth) return fail({ kind: 'bad_reply', httpStatus: res.status }, oauth);
    }
    if (res.status >= 500) return fail({ kind: 'server', httpStatus: res.status });
    return fail({ kind: 'bad_reply', httpStatus: res.status });
  }
}

function isRateLimit(failure: AttemptFailure): boolean {
  return (
    failure.kind === 'meta' &&
    ruleFor(failure.body.code, failure.body.error_subcode).retry === 'rate_limit'
  );
}

/** Log fields of a failure: codes and trace id only, never Meta's message (it may quote input). */
function failureLog(failure: AttemptFailure): Record<string, unknown> {
  switch (failure.kind) {
    case 'meta':
      return {
        status: failure.httpStatus,
        metaCode: failure.body.code,
        metaSubcode: failure.body.error_subcode,
        metaType: failure.body.type,
        fbtraceId: failure.body.fbtrace_id,
      };
    case 'server':
    case 'bad_reply':
      return { status: failure.httpStatus, failure: failure.kind };
    case 'transport':
      return {
        failure: 'transport',
        errorCode: failure.errorCode,
        timeout: failure.timeout,
        reachedMeta: failure.reachedMeta,
      };
  }
}
