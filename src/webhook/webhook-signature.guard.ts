import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  RawBodyRequest,
  UnauthorizedException,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { AppConfig } from '../config/app-config';

/** `sha256=` + HMAC-SHA256 of the raw body with `secret`, compared in constant time. */
export function isValidSignature(
  rawBody: Buffer,
  header: string | undefined,
  secrets: string[],
): boolean {
  if (!header) return false;
  const given = Buffer.from(header, 'utf8');
  return secrets.some((secret) => {
    const expected = Buffer.from(
      `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`,
      'utf8',
    );
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * Meta's `X-Hub-Signature-256` over the raw body bytes. The Instagram app secret
 * (INSTAGRAM_CLIENT_SECRET) and, when set, the Meta app secret (META_KROSSPOST_APP_SECRET) are
 * both accepted: Facebook-Login apps sign with the latter.
 */
@Injectable()
export class WebhookSignatureGuard implements CanActivate {
  private readonly secrets: string[];

  constructor(@Inject(ConfigService) config: AppConfig) {
    this.secrets = [
      config.get('INSTAGRAM_CLIENT_SECRET', { infer: true }),
      config.get('META_KROSSPOST_APP_SECRET', { infer: true }),
    ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  }

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<RawBodyRequest<Request>>();
    if (
      !req.rawBody ||
      !isValidSignature(req.rawBody, req.header('x-hub-signature-256'), this.secrets)
    ) {
      throw new UnauthorizedException('Invalid or missing webhook signature');
    }
    return true;
  }
}
