import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';

/**
 * Rate limits per caller: the JWT's user id when the request is authenticated (the JWT guard runs
 * first), the client IP otherwise (webhook, health). Meant to replace ThrottlerGuard as APP_GUARD.
 */
@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const user = req.user as { id?: unknown } | undefined;
    if (user && typeof user.id === 'string' && user.id.length > 0)
      return Promise.resolve(`user:${user.id}`);
    return Promise.resolve(`ip:${typeof req.ip === 'string' ? req.ip : 'unknown'}`);
  }
}

/** Sends per user and minute (Meta's own limits are per account and far higher). */
export const SEND_THROTTLE = { default: { limit: 30, ttl: 60_000 } };
