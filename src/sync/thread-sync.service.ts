import { Injectable, Logger } from '@nestjs/common';
import { AccountsService } from '../accounts/accounts.service';
import type { RoutedAccount } from '../accounts/accounts.types';
import { DmsIngestService } from '../dms/ingest/ingest.service';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import type { GraphAccount } from '../instagram-graph/instagram-graph.types';
import { ConversationPacer } from './conversation-pacer';
import {
  draftFromGraph,
  graphTimeMs,
  hasDetails,
  isOutbound,
  SyncSource,
} from './graph-message.mapping';

/** Meta details the 20 newest messages of a thread; one page of 20 is all there is to store. */
const THREAD_PAGE = 20;

export interface ThreadSyncOptions {
  source: SyncSource;
  /** Messages younger than this (ms, against `now`) are left to the webhook. */
  graceMs: number;
  now: number;
}

export interface ThreadSyncResult {
  /** Messages Meta returned with details. */
  seen: number;
  /** New DMs stored from them. */
  stored: number;
  /** Already stored (by the webhook, the send route or an earlier sync). */
  known: number;
  /** Missing here but younger than the grace period: the webhook may still bring them. */
  tooRecent: number;
  /** Meta has older messages in the thread it no longer details. */
  truncated: boolean;
}

/**
 * Reads one conversation through the Conversations API and stores the messages igdm does not
 * have, through DmsIngestService.storeMessage (idempotent by mid), so it never fights the webhook:
 * whichever stores a mid first creates the document and the other merges into it.
 */
@Injectable()
export class ThreadSync {
  private readonly logger = new Logger(ThreadSync.name);

  constructor(
    private readonly ingest: DmsIngestService,
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
    private readonly pacer: ConversationPacer,
  ) {}

  /** The account as ingest routes it; null when it is gone or belongs to another document. */
  async routed(accountId: string, igId: string): Promise<RoutedAccount | null> {
    const routed = await this.accounts.resolveForWebhook([igId]);
    return routed && routed.accountId === accountId ? routed : null;
  }

  async syncThread(
    account: RoutedAccount,
    graphAccount: GraphAccount,
    conversationId: string,
    opts: ThreadSyncOptions,
  ): Promise<ThreadSyncResult> {
    await this.pacer.turn(graphAccount.igId);
    const page = await this.graph.getConversationMessages(graphAccount, conversationId, {
      limit: THREAD_PAGE,
    });
    // Oldest first: documents get increasing _ids, and the conversation's last message is the
    // newest one, as when the webhook delivered them in order.
    const messages = page.data.filter(hasDetails).reverse();
    const result: ThreadSyncResult = {
      seen: messages.length,
      stored: 0,
      known: 0,
      tooRecent: 0,
      truncated: page.nextCursor !== null || messages.length < page.data.length,
    };
    if (messages.length === 0) return result;

    const known = await this.ingest.knownMids(
      account.accountId,
      messages.map((m) => m.id),
    );
    // Graph's order, not created_time: times have whole seconds and a reply often shares one.
    let lastReply = -1;
    messages.forEach((m, i) => {
      if (isOutbound(m, account)) lastReply = i;
    });
    const fetchedAt = new Date();
    const customers = new Set<string>();
    for (const [index, m] of messages.entries()) {
      if (known.has(m.id)) {
        result.known += 1;
        continue;
      }
      const at = graphTimeMs(m.created_time) ?? 0;
      if (opts.graceMs > 0 && opts.now - at < opts.graceMs) {
        result.tooRecent += 1;
        continue;
      }
      // History: an inbound message the business answered afterwards has been read. A message
      // the webhook missed is stored as the webhook would have (unread).
      const read =
        opts.source === 'import' && !isOutbound(m, account) ? index < lastReply : undefined;
      const draft = draftFromGraph(m, account, opts.source, { fetchedAt, read });
      if (!draft) continue;
      const { created } = await this.ingest.storeMessage(draft);
      if (created) {
        result.stored += 1;
        customers.add(draft.customer_id);
      } else {
        result.known += 1;
      }
    }
    for (const customerId of customers) await this.enrich(account, customerId);
    return result;
  }

  /** Names on the thread, as after a webhook; a failure is retried by the profile sweep. */
  private async enrich(account: RoutedAccount, customerId: string): Promise<void> {
    try {
      await this.ingest.enrichConversation(account, customerId);
    } catch {
      this.logger.debug({ accountId: account.accountId }, 'profile of a synced thread not fetched');
    }
  }
}
