import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import type { Request } from 'express';
import type { AppConfig } from '../config/app-config';
import { AuthUser } from './auth-user';
import { IS_PUBLIC } from './public.decorator';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;
/** How far ahead of this server's clock an issuer's `iat` may be. */
const CLOCK_SKEW_S = 60;

export const JWT_POLICY = Symbol('JWT_POLICY');

/** What a dashboard token must satisfy besides its HS256 signature and `sub`. */
export interface JwtPolicy {
  /** Longest lifetime accepted, exp − iat (exp − now without iat), in seconds. */
  maxTtlSeconds: number;
  /** `iss` must equal it, when set. */
  issuer?: string;
  /** `aud` must be or contain it, when set. */
  audience?: string;
  /** The secret before a rotation; its tokens pass the same checks. */
  previousSecret?: string;
}

/** From the validated JWT_* variables (src/config/env.ts). */
export function jwtPolicyFromConfig(config: AppConfig): JwtPolicy {
  return {
    maxTtlSeconds: config.get('JWT_MAX_TTL', { infer: true }),
    issuer: config.get('JWT_ISSUER', { infer: true }),
    audience: config.get('JWT_AUDIENCE', { infer: true }),
    previousSecret: config.get('JWT_SECRET_PREVIOUS', { infer: true }),
  };
}

interface Claims {
  sub?: unknown;
  exp?: unknown;
  iat?: unknown;
  iss?: unknown;
  aud?: unknown;
}

/** Global guard: every route needs a valid HS256 bearer token unless marked `@Public()`. */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly jwt: JwtService,
    private readonly reflector: Reflector,
    @Inject(JWT_POLICY) private readonly policy: JwtPolicy,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;

    const request = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const header = request.headers.authorization;
    if (!header) throw new UnauthorizedException('Missing bearer token');
    const match = BEARER.exec(header);
    if (!match) throw new UnauthorizedException('Malformed bearer token');

    let claims: Claims;
    try {
      claims = await this.verify(match[1]);
    } catch (error) {
      const expired = error instanceof Error && error.name === 'TokenExpiredError';
      throw new UnauthorizedException(expired ? 'Token expired' : 'Invalid token');
    }
    if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 200) {
      throw new UnauthorizedException('Token has no subject');
    }
    const exp = this.checkLifetime(claims);
    const { issuer, audience } = this.policy;
    if (issuer !== undefined && claims.iss !== issuer) {
      throw new UnauthorizedException('Token issuer (iss) is not accepted');
    }
    const audiences: unknown[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (audience !== undefined && !audiences.includes(audience)) {
      throw new UnauthorizedException('Token audience (aud) is not accepted');
    }
    request.user = { id: claims.sub, tokenExpiresAt: exp * 1000 };
    return true;
  }

  /** Signature, algorithm and exp/nbf, by the current secret or, during a rotation, the previous. */
  private async verify(token: string): Promise<Claims> {
    // Pinning the algorithm rejects `alg: none` and any asymmetric-key confusion.
    const options = { algorithms: ['HS256' as const] };
    try {
      return await this.jwt.verifyAsync<Claims>(token, options);
    } catch (error) {
      // Only a signature mismatch may be the old key's: an expired token stays expired.
      const badSignature = error instanceof Error && error.message === 'invalid signature';
      if (!badSignature || !this.policy.previousSecret) throw error;
      return this.jwt.verifyAsync<Claims>(token, {
        ...options,
        secret: this.policy.previousSecret,
      });
    }
  }

  /**
   * A token without exp would be valid forever, and one with a far exp nearly so: both are
   * refused, so a leaked token is worth at most JWT_MAX_TTL. Returns exp (s).
   */
  private checkLifetime(claims: Claims): number {
    const { exp, iat } = claims;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) {
      throw new UnauthorizedException('Token has no expiry (exp)');
    }
    const now = Math.floor(Date.now() / 1000);
    if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) {
      throw new UnauthorizedException('Token issue time (iat) is not a number');
    }
    if (iat !== undefined && iat > now + CLOCK_SKEW_S) {
      throw new UnauthorizedException('Token issue time (iat) is in the future');
    }
    if (exp - (iat ?? now) > this.policy.maxTtlSeconds) {
      throw new UnauthorizedException(
        `Token lifetime (exp − iat) exceeds the ${this.policy.maxTtlSeconds} s this service accepts`,
      );
    }
    return exp;
  }
}
