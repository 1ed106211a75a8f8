import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { hkdfSync, randomBytes } from 'node:crypto';
import type { AppConfig } from '../config/app-config';
import { OAuthState } from './schemas/oauth-state.schema';

/** A state is valid for 10 minutes. */
export const STATE_TTL_SECONDS = 600;
const AUDIENCE = 'igdm:instagram-connect';
const DUPLICATE_KEY = 11000;

export type StateCheck =
  { ok: true; userId: string } | { ok: false; reason: 'invalid' | 'expired' | 'replayed' };

/**
 * The OAuth `state`: a short JWT signed with a key derived from JWT_SECRET (so neither kind of
 * token passes for the other), bound to the caller, valid 10 minutes, usable once.
 */
@Injectable()
export class OAuthStateService {
  private readonly key: string;

  constructor(
    private readonly jwt: JwtService,
    @Inject(ConfigService) config: AppConfig,
    @InjectModel(OAuthState.name) private readonly states: Model<OAuthState>,
  ) {
    const secret = config.get('JWT_SECRET', { infer: true });
    this.key = Buffer.from(hkdfSync('sha256', secret, 'igdm', 'igdm oauth state v1', 32)).toString(
      'base64',
    );
  }

  issue(userId: string): string {
    return this.jwt.sign(
      { sub: userId, nonce: randomBytes(16).toString('base64url') },
      { secret: this.key, algorithm: 'HS256', expiresIn: STATE_TTL_SECONDS, audience: AUDIENCE },
    );
  }

  /** Verifies the state and consumes its nonce: the same state never passes twice. */
  async consume(state: string | undefined): Promise<StateCheck> {
    if (!state || state.length > 2000) return { ok: false, reason: 'invalid' };
    let claims: { sub?: unknown; nonce?: unknown; exp?: unknown };
    try {
      claims = await this.jwt.verifyAsync(state, {
        secret: this.key,
        algorithms: ['HS256'],
        audience: AUDIENCE,
      });
    } catch (error) {
      return {
        ok: false,
        reason:
          error instanceof Error && error.name === 'TokenExpiredError' ? 'expired' : 'invalid',
      };
    }
    const { sub, nonce, exp } = claims;
    if (
      typeof sub !== 'string' ||
      !sub ||
      typeof nonce !== 'string' ||
      !nonce ||
      typeof exp !== 'number'
    ) {
      return { ok: false, reason: 'invalid' };
    }
    const now = new Date();
    try {
      await this.states.collection.insertOne({
        _id: nonce as never,
        user_id: sub,
        used_at: now,
        expires_at: new Date(exp * 1000),
      });
    } catch (error) {
      if ((error as { code?: unknown }).code === DUPLICATE_KEY)
        return { ok: false, reason: 'replayed' };
      throw error;
    }
    // No TTL index on FerretDB: expired nonces go here (they can no longer verify anyway).
    await this.states.collection.deleteMany({ expires_at: { $lt: now } });
    return { ok: true, userId: sub };
  }
}
