import { Injectable } from '@nestjs/common';
import { AccountsService } from '../../accounts/accounts.service';
import type { RoutedAccount } from '../../accounts/accounts.types';
import { InstagramGraphService } from '../../instagram-graph/instagram-graph.service';
import type { GraphAccount } from '../../instagram-graph/instagram-graph.types';
import type { CustomerProfile } from '../schemas/instagram-conversation.schema';

/**
 * A profile read is reused for this long: the batch that waited for it and the enrichment that
 * follows it ask for the same profile within seconds, and Meta should see one request.
 */
const REUSE_MS = 30_000;

interface Read {
  profile: Promise<CustomerProfile>;
  settled: boolean;
}

/**
 * Customers' profiles read from Graph, one request per customer however many parts of igdm ask at
 * once: the batch store (which waits a moment for a new thread's profile, so its first messages
 * are stored named) and enrichment (which records it on the thread and names what was stored
 * without it) share the read in flight and its outcome for a few seconds after.
 */
@Injectable()
export class ProfileReads {
  private readonly reads = new Map<string, Read>();
  private readonly graphAccounts = new Map<string, Promise<GraphAccount>>();

  constructor(
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
  ) {}

  /** Whether Meta would answer: an account that needs re-authorisation or is off is not asked. */
  static mayRead(account: RoutedAccount): boolean {
    return account.status === 'active' && account.ingestEnabled;
  }

  /**
   * The customer's profile (`fetched_at` now; no name when Meta gives none, e.g. no consent).
   * `fresh`: not an outcome from before this call, only a read in flight or a new one.
   */
  read(account: RoutedAccount, customerId: string, opts: { fresh?: boolean } = {}) {
    const key = `${account.accountId}:${customerId}`;
    const known = this.reads.get(key);
    if (known && !(opts.fresh && known.settled)) return known.profile;
    const read: Read = { profile: this.fetch(account.accountId, customerId), settled: false };
    this.reads.set(key, read);
    const forget = () => {
      if (this.reads.get(key) === read) this.reads.delete(key);
    };
    read.profile.then(
      () => {
        read.settled = true;
        setTimeout(forget, REUSE_MS).unref();
      },
      // A failure is not reused: whoever retries later asks Meta again.
      forget,
    );
    return read.profile;
  }

  /**
   * The account's token, read once for a burst of reads (a batch of new threads asks for dozens
   * at once); not kept after, so a refreshed or revoked token is seen by the next burst.
   */
  private graphAccount(accountId: string): Promise<GraphAccount> {
    let pending = this.graphAccounts.get(accountId);
    if (!pending) {
      pending = this.accounts.getGraphAccount(accountId);
      this.graphAccounts.set(accountId, pending);
      const forget = () => this.graphAccounts.delete(accountId);
      pending.then(forget, forget);
    }
    return pending;
  }

  private async fetch(accountId: string, customerId: string): Promise<CustomerProfile> {
    const graphAccount = await this.graphAccount(accountId);
    const p = await this.graph.getUserProfile(graphAccount, customerId);
    return {
      ...(p?.name ? { name: p.name } : {}),
      ...(p?.username ? { username: p.username } : {}),
      ...(p?.profile_pic ? { profile_pic: p.profile_pic } : {}),
      ...(p?.is_verified_user !== null && p?.is_verified_user !== undefined
        ? { is_verified_user: p.is_verified_user }
        : {}),
      ...(p?.follower_count !== null && p?.follower_count !== undefined
        ? { follower_count: p.follower_count }
        : {}),
      fetched_at: new Date(),
    };
  }
}
