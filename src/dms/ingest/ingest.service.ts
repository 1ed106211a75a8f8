import { Injectable } from '@nestjs/common';
import { AccountGoneError } from '../../accounts/accounts.service';
import type { RoutedAccount } from '../../accounts/accounts.types';
import type { ApplyResult, MessageEvent, ParsedEvent } from '../events/ingest-event.types';
import { LegacyLedgerService } from '../legacy-ledger.service';
import { BatchStore } from './batch-store';
import { CommentIngest } from './comment-ingest';
import { ProfileEnrichment } from './enrichment';
import type { NewDm, StoreResult } from './ingest.types';
import { DmLedger } from './ledger';
import { draftBase, messageDraft, messageResult } from './message-drafts';
import { MessageStore } from './message-store';
import { StorePressure } from './store-pressure';
import { TargetEventApplier } from './target-events';

export type { NewDm, StoredDm, StoreResult } from './ingest.types';
export { MessageBeingStoredError } from './message-being-stored.error';

/**
 * Write side of the DMs, its one door for the rest of igdm: stores every webhook event
 * (idempotent by mid through the `instagram_dm_ids` ledger), applies edits/reactions/unsends/reads
 * to their target, keeps conversations up to date and enriches names after the fact. The work is
 * done by the parts in this folder (see docs/contracts.md, "Dms write side"); logs carry ids and
 * kinds only.
 */
@Injectable()
export class DmsIngestService {
  constructor(
    private readonly ledger: DmLedger,
    private readonly messages: MessageStore,
    private readonly batchStore: BatchStore,
    private readonly targetEvents: TargetEventApplier,
    private readonly commentIngest: CommentIngest,
    private readonly enrichment: ProfileEnrichment,
    private readonly legacyLedger: LegacyLedgerService,
    private readonly pressure: StorePressure,
  ) {}

  /**
   * Stores a message once per mid. The ledger (`_id` = mid) names the one document of the mid;
   * a legacy document with that `message_id` (the oldest) is adopted instead of inserting. If the
   * document exists already the draft is merged: an echo after a send adds is_echo/raw; a send
   * after its echo sets manual_dm and user_id. Pending events recorded on the ledger are applied
   * when the message is first stored. Updates the conversation and emits `dm.changed`.
   */
  storeMessage(draft: NewDm, opts: { preview?: boolean } = {}): Promise<StoreResult> {
    return this.messages.storeMessage(draft, opts);
  }

  /** The mids among `mids` whose DM is stored (import and reconciliation skip them). */
  knownMids(accountId: string, mids: string[]): Promise<Set<string>> {
    return this.ledger.knownMids(accountId, mids);
  }

  /** Applies one parsed webhook event for its (routed) account. Idempotent. */
  async applyEvent(event: ParsedEvent, account: RoutedAccount): Promise<ApplyResult> {
    if (!account.ingestEnabled) return { outcome: 'disabled' };
    switch (event.kind) {
      case 'message':
        return this.applyMessage(event, account);
      case 'postback': {
        const customerId = event.senderId;
        const { created } = await this.storeMessage({
          ...draftBase(event, account, 'inbound', customerId),
          message_id: event.mid,
          text: event.title ?? null,
          message_type: 'postback',
          postback: { title: event.title, payload: event.payload },
          ...(event.referral ? { referral: event.referral } : {}),
          raw: event.raw,
        });
        return { outcome: created ? 'stored' : 'duplicate', enrich: [customerId] };
      }
      case 'referral': {
        // A referral alone has no mid: kept as an inbound document with a synthetic id (read,
        // so it adds nothing to the unread count; it opens the 24 h window and sets last_referral).
        const customerId = event.senderId;
        const { created } = await this.storeMessage(
          {
            ...draftBase(event, account, 'inbound', customerId),
            message_id: event.mid,
            text: null,
            read: true,
            message_type: 'referral',
            referral: event.referral,
            raw: event.referral,
          },
          { preview: false },
        );
        return { outcome: created ? 'stored' : 'duplicate', enrich: [customerId] };
      }
      case 'edit':
        if (event.text === undefined && event.numEdit <= 0) return { outcome: 'noop' };
        return this.targetEvents.applyTargeted(event, account);
      case 'reaction':
      case 'unsend':
      case 'read':
        return this.targetEvents.applyTargeted(event, account);
      case 'comment':
        return this.commentIngest.storeComment(event, account);
      case 'mention':
        return { outcome: 'noop' };
      case 'ignored':
        return { outcome: 'ignored' };
    }
  }

  private async applyMessage(event: MessageEvent, account: RoutedAccount): Promise<ApplyResult> {
    const draft = messageDraft(event, account);
    // The customer's name comes from the thread's cached profile while the DM is recorded.
    const { created, profileFetchedAt, refetchMid } = await this.storeMessage(draft);
    return messageResult(draft.customer_id, created, profileFetchedAt, refetchMid);
  }

  /**
   * The worker's batch door: customers' messages from many deliveries, stored with a handful of
   * bulk writes instead of several writes each. New inbound messages (the bulk of any load) are
   * claimed on the ledger in one unordered insert, their unread markers in a second, their
   * documents in a third; each thread is then recorded under its lock. Anything else (an echo, a
   * mid seen before, an event that arrived before its message, a database still being backfilled)
   * takes `applyEvent`'s path, after the bulk, in the order given. Results are in input order.
   */
  applyMessages(items: { event: MessageEvent; account: RoutedAccount }[]): Promise<ApplyResult[]> {
    return this.pressure.during(() => this.applyMessagesNow(items));
  }

  private async applyMessagesNow(
    items: { event: MessageEvent; account: RoutedAccount }[],
  ): Promise<ApplyResult[]> {
    const results = new Array<ApplyResult | undefined>(items.length);
    const drafts = items.map(({ event, account }) => messageDraft(event, account));
    const bulk: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const draft = drafts[i];
      if (!items[i].account.ingestEnabled) results[i] = { outcome: 'disabled' };
      else if (
        draft.direction === 'inbound' &&
        !draft.read &&
        !this.legacyLedger.mayHaveUnledgeredDms()
      )
        bulk.push(i);
    }
    const accounts = new Map(items.map(({ account }) => [account.accountId, account]));
    const stored = await this.batchStore.storeNewInbound(
      bulk.map((i) => drafts[i]),
      accounts,
    );
    bulk.forEach((i, j) => {
      const done = stored[j];
      if (done)
        results[i] = messageResult(
          drafts[i].customer_id,
          true,
          done.profileFetchedAt,
          done.refetchMid,
        );
    });
    for (let i = 0; i < items.length; i++) {
      if (results[i]) continue;
      try {
        results[i] = await this.applyEvent(items[i].event, items[i].account);
      } catch (error) {
        if (!(error instanceof AccountGoneError)) throw error;
        results[i] = { outcome: 'account_gone' };
      }
    }
    return results as ApplyResult[];
  }

  /**
   * Customer profile (cached on the thread, one Graph call per customer per day) and names on
   * the thread's DMs. Throws when Graph or the token fails; the caller retries later.
   */
  enrichConversation(account: RoutedAccount, customerId: string, force = false): Promise<void> {
    return this.enrichment.enrichConversation(account, customerId, force);
  }

  /** A text-less edit (num_edit > 0): the new text comes from Graph; the old text stays until then. */
  refetchEditedText(account: RoutedAccount, mid: string): Promise<void> {
    return this.enrichment.refetchEditedText(account, mid);
  }
}
