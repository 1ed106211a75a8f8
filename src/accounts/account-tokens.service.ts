import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectModel } from '@nestjs/mongoose';
import { Cron, CronExpression } from '@nestjs/schedule';
import { Model, Types } from 'mongoose';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { AppError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import { Environment } from '../config/env';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import type { LongLivedToken } from '../instagram-graph/instagram-graph.types';
import { MetaApiError } from '../instagram-graph/meta-error';
import { AccountWriteLock } from './account-write-lock';
import { Account, AccountStatus } from './schemas/account.schema';
import { RefreshLease } from './schemas/refresh-lease.schema';
import { TokenCipher, TokenDecryptionError } from './token-cipher';

type AccountDoc = Account & { _id: Types.ObjectId };
interface Claimed {
  account: AccountDoc;
  leaseId: string;
}
const DUPLICATE_KEY = 11000;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Meta refuses to refresh a token younger than 24 h (oauth.md §2.5). */
const MIN_TOKEN_AGE_MS = DAY_MS;
/** How long a claimed account stays with its instance; a crash frees it after this. */
const LEASE_MS = 5 * 60_000;
/** After a failed refresh the account waits this long before the job tries it again. */
const RETRY_AFTER_FAILURE_MS = HOUR_MS;

export type RefreshOutcome = 'refreshed' | 'needs_reauth' | 'failed' | 'undecryptable' | 'deleted';

export interface RefreshRun {
  refreshed: number;
  failed: number;
  needsReauth: number;
}

export function reauthRequired(message: string, details?: Record<string, unknown>): AppError {
  return new AppError(HttpStatus.CONFLICT, 'ACCOUNT_REAUTH_REQUIRED', message, { details });
}

/**
 * Access tokens of accounts: encryption at rest, decryption that fails loudly, and the refresh job
 * that keeps every long-lived token away from its 60-day expiry.
 */
@Injectable()
export class AccountTokensService {
  private readonly logger = new Logger(AccountTokensService.name);
  private readonly cipher: TokenCipher;
  /** Lease owner of this process: several instances never refresh the same account. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly marginMs: number;
  private readonly jobEnabled: boolean;

  constructor(
    @InjectModel(Account.name) private readonly accounts: Model<Account>,
    @InjectModel(RefreshLease.name) private readonly leases: Model<RefreshLease>,
    private readonly graph: InstagramGraphService,
    private readonly writeLock: AccountWriteLock,
    @Inject(ConfigService) private readonly config: AppConfig,
  ) {
    this.cipher = new TokenCipher(
      config.get('ENCRYPTION_KEY', { infer: true }),
      config.get('ENCRYPTION_KEY_PREVIOUS', { infer: true }),
    );
    this.marginMs = config.get('TOKEN_REFRESH_MARGIN_DAYS', { infer: true }) * DAY_MS;
    // Off by default in tests: they call refreshExpiringTokens() themselves.
    this.jobEnabled =
      config.get('TOKEN_REFRESH_ENABLED', { infer: true }) ??
      config.get('ENVIRONMENT', { infer: true }) !== Environment.Test;
  }

  /** Bound to its account: the ciphertext copied into another account's document is useless. */
  encrypt(accountId: string, token: string): string {
    return this.cipher.encrypt(token, accountId);
  }

  /**
   * The plaintext token of an account. A value that does not decrypt is never used as a token:
   * it is logged (account id only) and raised as 409 ACCOUNT_REAUTH_REQUIRED with reason
   * TOKEN_UNDECRYPTABLE. The account's status is not changed, since fixing ENCRYPTION_KEY heals it.
   */
  decrypt(accountId: string, stored: string | undefined | null): string {
    try {
      if (!stored) throw new TokenDecryptionError('no token stored');
      return this.cipher.decrypt(stored, accountId);
    } catch (error) {
      if (!(error instanceof TokenDecryptionError)) throw error;
      this.logger.error(
        { accountId, reason: error.message },
        'Access token of the account does not decrypt: ENCRYPTION_KEY does not match the key it was stored with',
      );
      throw reauthRequired(
        'The stored Instagram access token cannot be decrypted: ENCRYPTION_KEY does not match. Restore the key or reconnect the account',
        { reason: 'TOKEN_UNDECRYPTABLE' },
      );
    }
  }

  /** A key rotation is under way (ENCRYPTION_KEY_PREVIOUS is set). */
  get rotating(): boolean {
    return !!this.config.get('ENCRYPTION_KEY_PREVIOUS', { infer: true });
  }

  /**
   * `{ access_token }` to $set when `stored` is in a legacy format (a Fernet token of the Python
   * service, an unbound `v1:`) or only decrypts with ENCRYPTION_KEY_PREVIOUS, re-encrypted from
   * its already decrypted `plaintext`; `{}` when it is current.
   */
  reencrypted(
    accountId: string,
    stored: string | undefined,
    plaintext: string,
  ): { access_token?: string } {
    if (!stored || !this.cipher.needsReencryption(stored, accountId)) return {};
    return { access_token: this.encrypt(accountId, plaintext) };
  }

  /** Fields to $set for a new long-lived token (always in the current format). */
  tokenFields(accountId: string, token: LongLivedToken, now = new Date()): Partial<Account> {
    return {
      access_token: this.encrypt(accountId, token.access_token),
      expires_in: token.expires_in,
      token_expires_at: new Date(now.getTime() + token.expires_in * 1000),
      token_refreshed_at: now,
    };
  }

  // ---------------------------------------------------------------- the job

  @Cron(CronExpression.EVERY_HOUR, { name: 'instagram-token-refresh' })
  async scheduledRefresh(): Promise<void> {
    if (!this.jobEnabled) return;
    try {
      const run = await this.refreshExpiringTokens();
      if (run.refreshed || run.failed || run.needsReauth) this.logger.log(run, 'token refresh run');
    } catch (error) {
      this.logger.error({ err: error }, 'token refresh run failed');
    }
  }

  /**
   * Refreshes every token older than 24 h that expires within the margin. Each account is claimed
   * with a lease (findOneAndUpdate), so concurrent runs on several instances refresh it once.
   */
  async refreshExpiringTokens(now = new Date()): Promise<RefreshRun> {
    await this.backfillLegacyExpiry();
    const run: RefreshRun = { refreshed: 0, failed: 0, needsReauth: 0 };
    const tried: Types.ObjectId[] = [];
    for (;;) {
      const claimed = await this.claim(this.dueFilter(now, tried), now);
      if (!claimed) break;
      tried.push(claimed.account._id);
      const outcome = await this.refreshClaimed(claimed);
      if (outcome === 'refreshed') run.refreshed += 1;
      else if (outcome === 'needs_reauth') run.needsReauth += 1;
      else if (outcome !== 'deleted') run.failed += 1;
    }
    return run;
  }

  /**
   * Refreshes one account now (POST /accounts/:id/refresh), under the same lease as the job.
   * The filter must already carry the tenant.
   */
  async refreshOne(filter: Record<string, unknown>): Promise<RefreshOutcome> {
    const claimed = await this.claim(filter, new Date());
    if (!claimed) {
      throw new AppError(
        HttpStatus.CONFLICT,
        'REFRESH_IN_PROGRESS',
        'The token of this account is being refreshed; retry shortly',
      );
    }
    return this.refreshClaimed(claimed, true);
  }

  /** Legacy documents have no token_expires_at: derive it from updated_at + expires_in once. */
  private async backfillLegacyExpiry(): Promise<void> {
    const legacy = await this.accounts
      .find(
        {
          // null matches a missing field too, and is served by the token_expires_at index.
          token_expires_at: null,
          is_deleted: { $ne: true },
          expires_in: { $gt: 0 },
          updated_at: { $exists: true },
        },
        { _id: 1, expires_in: 1, updated_at: 1 },
      )
      .limit(500)
      .lean<{ _id: Types.ObjectId; expires_in: number; updated_at: Date }[]>()
      .exec();
    for (const doc of legacy) {
      await this.writeLock.run(doc._id, () =>
        this.accounts.collection.updateOne(
          { _id: doc._id, token_expires_at: null },
          {
            $set: {
              token_expires_at: new Date(
                new Date(doc.updated_at).getTime() + doc.expires_in * 1000,
              ),
            },
          },
        ),
      );
    }
  }

  private dueFilter(now: Date, exclude: Types.ObjectId[]): Record<string, unknown> {
    const oldEnough = new Date(now.getTime() - MIN_TOKEN_AGE_MS);
    return {
      ...(exclude.length ? { _id: { $nin: exclude } } : {}),
      is_deleted: { $ne: true },
      status: { $nin: [AccountStatus.NeedsReauth, AccountStatus.Disconnected] },
      access_token: { $exists: true },
      $and: [
        // Expires within the margin, or expiry unknown (legacy without expires_in).
        {
          $or: [
            { token_expires_at: { $lte: new Date(now.getTime() + this.marginMs) } },
            { token_expires_at: { $exists: false } },
          ],
        },
        // At least 24 h old.
        {
          $or: [
            { token_refreshed_at: { $lte: oldEnough } },
            { token_refreshed_at: { $exists: false }, updated_at: { $lte: oldEnough } },
          ],
        },
      ],
    };
  }

  /**
   * Claims one account matching `filter` for this instance: inserts its lease row (atomic), then
   * reads the account again, so an account another instance refreshed meanwhile is let go.
   */
  private async claim(filter: Record<string, unknown>, now: Date): Promise<Claimed | null> {
    const candidates = await this.accounts
      .find(filter, { _id: 1 })
      .sort({ token_expires_at: 1 })
      .limit(50)
      .lean<{ _id: Types.ObjectId }[]>()
      .exec();
    for (const { _id } of candidates) {
      const leaseId = `${this.instanceId}:${randomUUID()}`;
      if (!(await this.acquire(_id.toHexString(), leaseId, now))) continue;
      const account = await this.accounts
        .findOne({ ...filter, _id })
        .lean<AccountDoc>()
        .exec();
      if (account) return { account, leaseId };
      await this.release(_id.toHexString(), leaseId);
    }
    return null;
  }

  private async acquire(accountId: string, leaseId: string, now: Date): Promise<boolean> {
    const lease = { _id: accountId, owner: leaseId, until: new Date(now.getTime() + LEASE_MS) };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.leases.collection.insertOne(lease as never);
        return true;
      } catch (error) {
        if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      }
      const held = await this.leases.findById(accountId).lean<RefreshLease>().exec();
      if (held && held.until > now) return false;
      // Stale: its instance died mid-refresh. Remove exactly that lease and try once more.
      if (held)
        await this.leases.collection.deleteOne({ _id: accountId as never, owner: held.owner });
    }
    return false;
  }

  private async release(accountId: string, leaseId: string): Promise<void> {
    await this.leases.collection.deleteOne({ _id: accountId as never, owner: leaseId });
  }

  /** Keeps the lease after a failure, so the job leaves the account alone for a while. */
  private async holdLease(accountId: string, leaseId: string): Promise<void> {
    await this.leases.collection.updateOne(
      { _id: accountId as never, owner: leaseId },
      { $set: { until: new Date(Date.now() + RETRY_AFTER_FAILURE_MS) } },
    );
  }

  private async refreshClaimed(
    { account, leaseId }: Claimed,
    rethrow = false,
  ): Promise<RefreshOutcome> {
    const accountId = account._id.toHexString();
    // A refresh that ends after the account was deleted must not bring its token back.
    const mine = { _id: account._id, is_deleted: { $ne: true } };
    const write = (update: Record<string, unknown>) =>
      this.writeLock.run(account._id, () => this.accounts.collection.updateOne(mine, update));
    const holdLease = () => this.holdLease(accountId, leaseId);

    let token: string;
    try {
      token = this.decrypt(accountId, account.access_token);
    } catch (error) {
      await holdLease();
      if (rethrow) throw error;
      return 'undecryptable';
    }
    try {
      const fresh = await this.graph.refreshToken(token);
      const now = new Date();
      const stored = await write({
        $set: { ...this.tokenFields(accountId, fresh, now), updated_at: now },
      });
      await this.release(accountId, leaseId);
      if (stored.matchedCount === 0) {
        this.logger.log(
          { accountId },
          'refreshed token dropped: the account was deleted meanwhile',
        );
        return 'deleted';
      }
      this.logger.log({ accountId }, 'access token refreshed');
      return 'refreshed';
    } catch (error) {
      if (error instanceof MetaApiError && error.reauthRequired) {
        await write({
          $set: {
            status: AccountStatus.NeedsReauth,
            status_reason: `Token refresh refused by Meta (code ${error.metaCode ?? '?'}): reconnect the account`,
            updated_at: new Date(),
          },
        });
        await this.release(accountId, leaseId);
        this.logger.warn(
          { accountId, metaCode: error.metaCode, metaSubcode: error.metaSubcode },
          'token refresh refused: account needs reauth',
        );
        if (rethrow)
          throw reauthRequired(
            'Meta refused to refresh the token: reconnect the Instagram account',
          );
        return 'needs_reauth';
      }
      await holdLease();
      this.logger.warn(
        { accountId, code: error instanceof AppError ? error.code : undefined },
        'token refresh failed; will retry later',
      );
      if (rethrow) throw error;
      return 'failed';
    }
  }
}
