import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { AppConfig } from '../../config/app-config';

/** The send limits, read from the request where the guard put them (see SEND_THROTTLE). */
const SEND_LIMITS = Symbol('igdm.sendLimits');
interface SendLimits {
  limit: number;
  ttlMs: number;
}
type RequestWithLimits = Record<string | symbol, unknown> & { [SEND_LIMITS]?: SendLimits };

/** Used only if a route with SEND_THROTTLE ever runs without this guard (the env defaults). */
const FALLBACK_SEND_LIMITS: SendLimits = { limit: 30, ttlMs: 60_000 };

function sendLimitsOf(context: ExecutionContext): SendLimits {
  return (
    context.switchToHttp().getRequest<RequestWithLimits>()[SEND_LIMITS] ?? FALLBACK_SEND_LIMITS
  );
}

/**
 * Sends per user and window (THROTTLE_SEND_LIMIT per THROTTLE_TTL_MS; Meta's own limits are per
 * account and far higher). `@Throttle()` is evaluated when the controller class loads, before any
 * ConfigService exists, so the values are resolved per request from what the guard attached.
 */
export const SEND_THROTTLE = {
  default: {
    limit: (context: ExecutionContext) => sendLimitsOf(context).limit,
    ttl: (context: ExecutionContext) => sendLimitsOf(context).ttlMs,
  },
};

/**
 * The global rate limiter (APP_GUARD, registered after JwtAuthGuard in AppModule so `req.user` is
 * set): it counts per caller, the JWT's `sub` on authenticated routes, the client IP on public
 * ones. Several dashboards of one user behind one NAT share nothing with another user's.
 * The webhook is exempt (`@SkipThrottle()` there): Meta must never get a 429.
 */
@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  private readonly sendLimits: SendLimits;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    @Inject(ConfigService) config: AppConfig,
  ) {
    super(options, storage, reflector);
    this.sendLimits = {
      limit: config.get('THROTTLE_SEND_LIMIT', { infer: true }),
      ttlMs: config.get('THROTTLE_TTL_MS', { infer: true }),
    };
  }

  override canActivate(context: ExecutionContext): Promise<boolean> {
    context.switchToHttp().getRequest<RequestWithLimits>()[SEND_LIMITS] = this.sendLimits;
    return super.canActivate(context);
  }

  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const user = req.user as { id?: unknown } | undefined;
    if (user && typeof user.id === 'string' && user.id.length > 0)
      return Promise.resolve(`user:${user.id}`);
    return super.getTracker(req).then((ip) => `ip:${ip}`);
  }
}

/** The THROTTLE_* variables as ThrottlerModule options (the 'default' throttler only). */
export function throttlerOptions(config: AppConfig): ThrottlerModuleOptions {
  return {
    throttlers: [
      {
        name: 'default',
        ttl: config.get('THROTTLE_TTL_MS', { infer: true }),
        limit: config.get('THROTTLE_LIMIT', { infer: true }),
      },
    ],
  };
}
