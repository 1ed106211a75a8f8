import { HttpStatus } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { normalizeIp } from '@nestjs/throttler';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { JwtAuthGuard } from '../../auth/jwt-auth.guard';
import { AppError } from '../errors/app-error';
import { HEALTH_PATH, WEBHOOK_PATH, routePath } from './route-path';

interface Window {
  count: number;
  resetAt: number;
}

/**
 * Fixed windows per client, in this process (as the throttler's own storage): behind several
 * instances each one allows the limit, which still bounds a flood by the number of instances.
 */
export class AnonymousBudget {
  private readonly windows = new Map<string, Window>();
  private nextSweep = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** One request taken from the client's window, or how long until the next window opens. */
  take(client: string): { window: Window } | { retryAfterMs: number } {
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(client);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(client, window);
    }
    if (window.count >= this.limit) return { retryAfterMs: window.resetAt - now };
    window.count += 1;
    return { window };
  }

  /** Undoes a take, unless its window has already been replaced by a newer one. */
  giveBack(client: string, window: Window): void {
    if (this.windows.get(client) === window && window.count > 0) window.count -= 1;
  }

  /** Forgets expired windows once per window length, so a spread of addresses cannot pile up. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + this.windowMs;
    for (const [client, window] of this.windows)
      if (window.resetAt <= now) this.windows.delete(client);
  }
}

/** A route of no controller: nothing marks it public, so the guard always checks the token. */
class AnyController {}
function anyRoute(): void {}

/**
 * Whether the request carries a token the JWT guard accepts, asked of the guard itself so the two
 * can never disagree (claims, secrets) about which requests end up 401.
 */
export function acceptedByGuard(
  guard: Promise<JwtAuthGuard>,
): (req: Request, res: Response) => Promise<boolean> {
  return async (req, res) => {
    // The guard sets `user` on the request it is given: that stays on this copy, so a public
    // route is still counted per IP by the throttler.
    const probe = Object.create(req) as Request;
    const context = new ExecutionContextHost([probe, res], AnyController, anyRoute);
    // Outside the try: a guard that cannot be built is a bug to surface (a 500), not a reason to
    // treat every valid token as missing and limit its user.
    const instance = await guard;
    try {
      return await instance.canActivate(context);
    } catch {
      return false;
    }
  };
}

export interface AnonymousLimitOptions {
  isAuthenticated: (req: Request, res: Response) => Promise<boolean>;
  limit: number;
  windowMs: number;
}

/**
 * Registered before the body parsers: a per-address budget for requests that carry no valid
 * bearer token and do not succeed (401s, 404s, oversized or malformed bodies, limited public
 * calls). The JWT guard and the per-user throttler run only after the body has been read and
 * parsed, so without this a flood of unauthenticated requests cost a body parse each and was
 * never counted. The token is verified here (one HMAC, far cheaper than a body) because a
 * well-formed but forged token must not buy its way past the budget.
 *
 * Each such request takes its slot on arrival, so a burst sent in parallel is bounded too, and
 * gives it back when it succeeds (an aborted one keeps it): a browser loading Swagger UI or
 * coming back from Instagram's OAuth page spends nothing. The webhook and /health never pass
 * through this budget.
 */
export function anonymousLimit({
  isAuthenticated,
  limit,
  windowMs,
}: AnonymousLimitOptions): RequestHandler {
  const budget = new AnonymousBudget(limit, windowMs);
  const exempt = new Set([WEBHOOK_PATH, HEALTH_PATH]);

  return async function limitAnonymous(req: Request, res: Response, next: NextFunction) {
    if (exempt.has(routePath(req))) return next();
    if (req.headers.authorization !== undefined && (await isAuthenticated(req, res))) return next();
    // req.ip honours TRUST_PROXY; IPv6 is counted per /64, as the throttler does.
    const client = normalizeIp(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    const taken = budget.take(client);
    if ('retryAfterMs' in taken) {
      return next(
        new AppError(
          HttpStatus.TOO_MANY_REQUESTS,
          'RATE_LIMITED',
          'Too many requests without a valid bearer token from this address; retry later',
          { headers: { 'Retry-After': String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000))) } },
        ),
      );
    }
    res.once('finish', () => {
      if (res.statusCode < 400) budget.giveBack(client, taken.window);
    });
    next();
  };
}
