import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { AppConfig } from '../config/app-config';
import { OAuthState } from './schemas/oauth-state.schema';
import { TokenCipher, TokenDecryptionError } from './token-cipher';

/** A state is valid for 10 minutes. */
export const STATE_TTL_SECONDS = 600;
/**
 * The dashboard finishes right after the browser lands on it; Instagram's code itself lasts an
 * hour, so 10 minutes leave room for a slow page without keeping a usable code around for long.
 */
export const TICKET_TTL_SECONDS = 600;
const AUDIENCE = 'igdm:instagram-connect';
const DUPLICATE_KEY = 11000;

export type StateCheck =
  | { ok: true; userId: string; nonce: string }
  | { ok: false; reason: 'invalid' | 'expired' | 'replayed' };

export type TicketCheck =
  | { ok: true; userId: string; code: string }
  | { ok: false; reason: 'invalid' | 'other_user'; ownerId?: string };

/** Only a hash is stored: a database reader cannot finish someone's connect with it. */
const ticketHash = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');

/**
 * The OAuth `state`: a short JWT signed with a key derived from JWT_SECRET (so neither kind of
 * token passes for the other), bound to the caller, valid 10 minutes, usable once. A valid state
 * proves who asked for the URL, not who consented: whoever opened it did. So the callback only
 * parks Instagram's code under a fresh ticket that it hands to that browser, and the code is
 * used when the user who asked brings the ticket back with their own token (`redeem`).
 */
@Injectable()
export class OAuthStateService {
  private readonly key: string;
  private readonly cipher: TokenCipher;

  constructor(
    private readonly jwt: JwtService,
    @Inject(ConfigService) config: AppConfig,
    @InjectModel(OAuthState.name) private readonly states: Model<OAuthState>,
  ) {
    const secret = config.get('JWT_SECRET', { infer: true });
    this.key = Buffer.from(hkdfSync('sha256', secret, 'igdm', 'igdm oauth state v1', 32)).toString(
      'base64',
    );
    this.cipher = new TokenCipher(
      config.get('ENCRYPTION_KEY', { infer: true }),
      config.get('ENCRYPTION_KEY_PREVIOUS', { infer: true }),
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
    return { ok: true, userId: sub, nonce };
  }

  /**
   * Keeps Instagram's code (encrypted, like tokens) with the consumed state and returns the
   * single-use ticket that redeems it. The row lives until the ticket expires, which also keeps
   * the nonce refusing replays at least as long as the state could verify.
   */
  async park(nonce: string, code: string): Promise<string> {
    const ticket = randomBytes(32).toString('base64url');
    await this.states.collection.updateOne(
      { _id: nonce as never },
      {
        $set: {
          ticket_hash: ticketHash(ticket),
          code: this.cipher.encrypt(code),
          expires_at: new Date(Date.now() + TICKET_TTL_SECONDS * 1000),
        },
      },
    );
    return ticket;
  }

  /**
   * Uses the ticket up, whoever brings it: a ticket that reached the wrong dashboard is burnt, so
   * it cannot be replayed later by whoever else sees the address it travelled in.
   */
  async redeem(ticket: string, userId: string): Promise<TicketCheck> {
    const now = new Date();
    const row = await this.states.collection.findOneAndUpdate(
      {
        ticket_hash: ticketHash(ticket),
        redeemed_at: { $exists: false },
        expires_at: { $gt: now },
      },
      { $set: { redeemed_at: now }, $unset: { code: '' } },
      { returnDocument: 'before' },
    );
    if (!row || typeof row.code !== 'string') return { ok: false, reason: 'invalid' };
    if (row.user_id !== userId)
      return { ok: false, reason: 'other_user', ownerId: String(row.user_id) };
    try {
      return { ok: true, userId, code: this.cipher.decrypt(row.code) };
    } catch (error) {
      // Parked under a key no longer configured: the connect has to start again, not a 500.
      if (error instanceof TokenDecryptionError) return { ok: false, reason: 'invalid' };
      throw error;
    }
  }
}
