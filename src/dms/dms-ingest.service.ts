import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, UpdateQuery } from 'mongoose';
import { AccountGoneError, AccountsService } from '../accounts/accounts.service';
import type { RoutedAccount } from '../accounts/accounts.types';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { AppError } from '../common/errors/app-error';
import { KeyedSerialQueue } from '../common/concurrency/keyed-serial-queue';
import { ConversationsService } from './conversations.service';
import { customerOf, DmWriteLock } from './dm-write-lock';
import { LegacyLedgerService } from './legacy-ledger.service';
import { ledgerKey, markerKey, midOfKey } from './ledger-keys';
import { DM_CHANGED, DmChangedEvent } from './events/dm-events';
import type {
  ApplyResult,
  CommentEvent,
  EditEvent,
  MessageEvent,
  ParsedEvent,
  ReactionEvent,
  ReadEvent,
  UnsendEvent,
} from './events/ingest-event.types';
import { InstagramComment } from './schemas/instagram-comment.schema';
import { InstagramDmId } from './schemas/instagram-dm-id.schema';
import {
  DmAttachment,
  DmReaction,
  DmSource,
  Direction,
  InstagramDm,
  MessageType,
} from './schemas/instagram-dm.schema';

/** A message to store: from a webhook event, or from the send route (source 'send'). */
export interface NewDm {
  platform_account_id: string;
  user_id: string | null;
  ig_id?: string;
  sender_id: string;
  recipient_id: string;
  /** The customer's IGSID (recipient of outbound, sender of inbound). */
  customer_id: string;
  message_id: string;
  text?: string | null;
  /** ms */
  timestamp: number;
  direction: Direction;
  is_echo?: boolean;
  /** Default: true for outbound, false for inbound. */
  read?: boolean;
  manual_dm?: boolean;
  raw?: Record<string, unknown>;
  message_type?: MessageType;
  attachments?: DmAttachment[];
  reply_to?: InstagramDm['reply_to'];
  quick_reply?: InstagramDm['quick_reply'];
  referral?: Record<string, unknown>;
  postback?: InstagramDm['postback'];
  is_standby?: boolean;
  is_unsupported?: boolean;
  comment_id?: string;
  sender_name?: string;
  recipient_name?: string;
  source: DmSource;
  send_status?: InstagramDm['send_status'];
}

export type StoredDm = InstagramDm & { _id: Types.ObjectId };

/**
 * An event's message is being stored right now (claimed on the ledger, document not yet
 * written): its delivery fails this attempt and is retried, when the document is there.
 */
export class MessageBeingStoredError extends Error {
  constructor() {
    super('the message this event is about is being stored; retried shortly');
    this.name = 'MessageBeingStoredError';
  }
}

/** A message the bulk path stored, with what the worker needs to follow up. */
interface BulkStored {
  dm: StoredDm;
  profileFetchedAt?: Date;
  refetchMid?: string;
}

/** Event kinds that target an existing message and wait on the ledger when it is not there yet. */
type TargetEvent = EditEvent | ReactionEvent | UnsendEvent | ReadEvent;
type Strip<T> = T extends unknown ? Omit<T, 'routingIds' | 'entryId'> : never;
type PendingEntry = Strip<TargetEvent>;

const PROFILE_TTL_MS = 24 * 3600_000;
/** Fields a duplicate delivery may fill on an older document that lacks them. */
const FILLABLE = [
  'customer_id',
  'message_type',
  'ig_id',
  'reply_to',
  'quick_reply',
  'referral',
  'postback',
  'is_standby',
  'is_unsupported',
  'comment_id',
] as const;

export interface StoreResult {
  dm: StoredDm;
  created: boolean;
  /** When the thread's customer profile was last fetched (enrichment is due after a day). */
  profileFetchedAt?: Date;
  /** A text-less edit waiting for the message was applied: its text is to be read from Graph. */
  refetchMid?: string;
}

/** The customer's side of a message: they sent the inbound ones and received the outbound ones. */
function customerNameField(direction: Direction | undefined): 'sender_name' | 'recipient_name' {
  return direction === 'outbound' ? 'recipient_name' : 'sender_name';
}

function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000
  );
}

function pendingKey(p: PendingEntry): string {
  return `${p.kind}:${p.senderId}:${p.timestamp}`;
}

/**
 * Write side of the DMs: stores every webhook event (idempotent by mid through the
 * `instagram_dm_ids` ledger), applies edits/reactions/unsends/reads to their target, keeps
 * conversations up to date and enriches names after the fact. Logs carry ids and kinds only.
 */
@Injectable()
export class DmsIngestService {
  private readonly logger = new Logger(DmsIngestService.name);

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    @InjectModel(InstagramDmId.name) private readonly ledger: Model<InstagramDmId>,
    @InjectModel(InstagramComment.name) private readonly comments: Model<InstagramComment>,
    private readonly conversations: ConversationsService,
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
    private readonly events: EventEmitter2,
    private readonly legacyLedger: LegacyLedgerService,
    private readonly writeLock: DmWriteLock,
  ) {}

  /**
   * Ledger updates of one mid run one after another in this process: FerretDB rewrites the whole
   * entry on update, so setting dm_id and pushing a pending event at once could lose one.
   */
  private readonly ledgerWrites = new KeyedSerialQueue();

  // ------------------------------------------------------------------ storeMessage

  /**
   * Stores a message once per mid. The ledger (`_id` = mid) names the one document of the mid;
   * a legacy document with that `message_id` (the oldest) is adopted instead of inserting. If the
   * document exists already the draft is merged: an echo after a send adds is_echo/raw; a send
   * after its echo sets manual_dm and user_id. Pending events recorded on the ledger are applied
   * when the message is first stored. Updates the conversation and emits `dm.changed`.
   */
  storeMessage(draft: NewDm, opts: { preview?: boolean } = {}): Promise<StoreResult> {
    return this.writeLock.forThread(draft.platform_account_id, draft.customer_id, () =>
      this.storeMessageLocked(draft, opts),
    );
  }

  private async storeMessageLocked(
    draft: NewDm,
    opts: { preview?: boolean },
  ): Promise<StoreResult> {
    // An import, a reconciliation or a send whose Meta call outlived the account's deletion
    // would otherwise write into it after its purge.
    if (!(await this.accounts.isLive(draft.platform_account_id))) throw new AccountGoneError();
    const mid = draft.message_id;
    const accountId = draft.platform_account_id;
    const key = ledgerKey(accountId, mid);
    let existing: StoredDm | null = null;
    let dmId: Types.ObjectId | undefined;
    // The common case, a new mid, costs one insert: the ledger entry claims the mid at once, and
    // for an inbound unread message the same insert claims its unread +1 (`<mid>#unread`).
    let newMid = false;
    let unreadClaimed: boolean | undefined;
    if (!this.legacyLedger.mayHaveUnledgeredDms()) {
      const candidate = new Types.ObjectId();
      const created_at = new Date();
      const entry = { _id: key, dm_id: candidate, platform_account_id: accountId, created_at };
      if (draft.direction === 'inbound' && !draft.read) {
        const unread = { _id: markerKey(accountId, mid, 'unread'), created_at };
        const inserted = await this.insertInOrder([entry, unread]);
        newMid = inserted >= 1;
        if (newMid) unreadClaimed = inserted === 2;
      } else {
        newMid = await this.insertOnce(entry);
      }
      if (newMid) dmId = candidate;
    }
    if (!dmId) dmId = (await this.ledger.findById(key).lean().exec())?.dm_id;

    if (!dmId) {
      // Legacy data (the Python service) has documents but no ledger entries until the
      // start-up backfill has run; after it, the ledger alone is the truth.
      const legacy = this.legacyLedger.mayHaveUnledgeredDms()
        ? await this.findLegacy(accountId, mid)
        : null;
      const candidate = legacy?._id ?? new Types.ObjectId();
      const claimed = await this.claimLedger(accountId, mid, candidate);
      dmId = claimed.dm_id ?? candidate;
      if (legacy && legacy._id.equals(dmId)) existing = legacy;
    }
    if (!newMid) existing ??= await this.dms.findById(dmId).lean<StoredDm>().exec();

    let created = false;
    let dm: StoredDm;
    if (!existing) {
      const doc = this.buildDoc(draft, dmId);
      try {
        await new this.dms(doc).save({ timestamps: false });
        created = true;
        dm = doc;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        existing = await this.dms.findById(dmId).lean<StoredDm>().exec();
        if (!existing) throw error;
        dm = await this.mergeInItsThread(existing, draft);
      }
    } else {
      dm = await this.mergeInItsThread(existing, draft);
    }

    let refetchMid: string | undefined;
    if (created) {
      // Events that arrived before the message (re-read after the insert: see applyTargeted).
      const fresh = await this.ledger.findById(key).lean().exec();
      const pending = (fresh?.pending ?? []) as unknown as PendingEntry[];
      if (pending.length > 0) {
        for (const p of [...pending].sort((a, b) => a.timestamp - b.timestamp)) {
          refetchMid = (await this.applyToDm(dm, p)).refetchMid ?? refetchMid;
          dm = (await this.dms.findById(dm._id).lean<StoredDm>().exec()) ?? dm;
        }
      }
    }
    const recorded = await this.recordInConversation(dm, draft, opts, unreadClaimed);
    dm = recorded.dm;
    this.emitDm(dm, created ? 'created' : 'updated');
    return {
      dm,
      created,
      profileFetchedAt: recorded.profileFetchedAt,
      ...(refetchMid ? { refetchMid } : {}),
    };
  }

  /**
   * Sets `dm_id` on the ledger unless another writer did; returns the ledger entry.
   * FerretDB serialises nothing for a conditional update or findOneAndUpdate (two writers can
   * both match), but an insert of an existing `_id` always fails. So the winner is decided by
   * inserting: the entry itself when the mid is new, or a `<mid>#claim` marker when events about
   * the mid already created its entry.
   */
  private async claimLedger(
    accountId: string,
    mid: string,
    dmId: Types.ObjectId,
  ): Promise<{ _id: string; dm_id?: Types.ObjectId }> {
    const key = ledgerKey(accountId, mid);
    const entry = { dm_id: dmId, platform_account_id: accountId, created_at: new Date() };
    if (await this.insertOnce({ _id: key, ...entry })) return { _id: key, ...entry };
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const other = await this.ledger.findById(key).lean().exec();
      if (other?.dm_id) return other;
      if (await this.claimOnce(markerKey(accountId, mid, 'claim'))) {
        await this.ledgerWrites.run(key, () =>
          this.ledger
            .updateOne({ _id: key }, { $set: { dm_id: dmId, platform_account_id: accountId } })
            .exec(),
        );
        return { ...other, _id: key, ...entry };
      }
      // Another writer holds the claim and is about to set dm_id.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('ledger claim did not settle');
  }

  /** Inserts a ledger document; false when its `_id` exists already. */
  private async insertOnce(doc: Record<string, unknown> & { _id: string }): Promise<boolean> {
    try {
      await this.ledger.collection.insertOne(doc as never);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /**
   * Inserts ledger documents in order, stopping at the first whose `_id` exists; returns how many
   * were inserted (MongoDB and FerretDB both honour `ordered`).
   */
  private async insertInOrder(
    docs: (Record<string, unknown> & { _id: string })[],
  ): Promise<number> {
    try {
      return (await this.ledger.collection.insertMany(docs as never[], { ordered: true }))
        .insertedCount;
    } catch (error) {
      const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
      const errors = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
      if (errors.length === 0 || !errors.every(isDuplicateKey)) throw error;
      return (error as { insertedCount?: number }).insertedCount ?? 0;
    }
  }

  /**
   * A DM the Python service (or igdm before the per-account ledger) stored for this account,
   * found by `message_id` until the start-up backfill has given every DM its entry. Never another
   * account's: the same mid on two connected accounts is two messages.
   */
  private findLegacy(accountId: string, mid: string): Promise<StoredDm | null> {
    return this.dms
      .findOne({ message_id: mid, platform_account_id: accountId })
      .sort({ _id: 1 })
      .lean<StoredDm>()
      .exec();
  }

  /** A one-time claim (a ledger marker), atomic on every MongoDB-wire server. */
  private claimOnce(key: string): Promise<boolean> {
    return this.insertOnce({ _id: key, created_at: new Date() });
  }

  private buildDoc(draft: NewDm, _id: Types.ObjectId): StoredDm {
    const at = new Date(draft.timestamp);
    const outbound = draft.direction === 'outbound';
    const doc: Record<string, unknown> = {
      _id,
      platform_account_id: draft.platform_account_id,
      ig_id: draft.ig_id,
      user_id: draft.user_id,
      sender_id: draft.sender_id,
      recipient_id: draft.recipient_id,
      message_id: draft.message_id,
      text: draft.text ?? null,
      timestamp: draft.timestamp,
      is_echo: draft.is_echo ?? false,
      direction: draft.direction,
      read: draft.read ?? outbound,
      manual_dm: draft.manual_dm ?? false,
      raw: draft.raw,
      created_at: at,
      updated_at: new Date(),
      is_deleted: false,
      customer_id: draft.customer_id,
      message_type: draft.message_type ?? (draft.text ? 'text' : 'attachment'),
      source: draft.source,
    };
    const optional: (keyof NewDm)[] = [
      'attachments',
      'reply_to',
      'quick_reply',
      'referral',
      'postback',
      'is_standby',
      'is_unsupported',
      'comment_id',
      'sender_name',
      'recipient_name',
      'send_status',
    ];
    for (const key of optional) if (draft[key] !== undefined) doc[key] = draft[key];
    if (draft.attachments?.length === 0) delete doc.attachments;
    return doc as unknown as StoredDm;
  }

  /**
   * merge, also under the lock of the thread the document is in. A legacy document without
   * customer or sender fields is in no thread until the merge fills customer_id, so an event
   * applied to it meanwhile (a reaction) holds that other lock, and FerretDB's unlocked
   * whole-document rewrite could drop the event's change (the reaction) without both.
   */
  private mergeInItsThread(existing: StoredDm, draft: NewDm): Promise<StoredDm> {
    // Only the thread-less case: its lock is never held while waiting for another one.
    if (customerOf(existing) !== undefined) return this.merge(existing, draft);
    return this.writeLock.forDm(existing, async () =>
      this.merge(
        (await this.dms.findById(existing._id).lean<StoredDm>().exec()) ?? existing,
        draft,
      ),
    );
  }

  /** Second arrival of a mid: one message, one document. */
  private async merge(existing: StoredDm, draft: NewDm): Promise<StoredDm> {
    const set: Record<string, unknown> = {};
    if (draft.source === 'send') {
      if (!existing.manual_dm) set.manual_dm = true;
      // Sent through igdm, whichever arrived first: the echo only confirms it.
      if (existing.source !== 'send') set.source = 'send';
      // The echo of a private reply looks like any text; only the send knows what it was.
      if (draft.message_type === 'private_reply' && existing.message_type !== 'private_reply')
        set.message_type = 'private_reply';
      if (draft.user_id && existing.user_id !== draft.user_id) set.user_id = draft.user_id;
      if (
        draft.send_status &&
        existing.send_status !== draft.send_status &&
        existing.send_status !== 'sent'
      ) {
        set.send_status = draft.send_status;
      }
    }
    if (draft.is_echo && !existing.is_echo) {
      set.is_echo = true;
      if (draft.raw) set.raw = draft.raw;
      if (existing.send_status === 'unknown') set.send_status = 'sent';
    }
    if (!existing.is_unsent && !existing.is_deleted) {
      if (
        (existing.text === null || existing.text === undefined) &&
        draft.text &&
        !existing.edit_count
      ) {
        set.text = draft.text;
      }
      if (!existing.attachments?.length && draft.attachments?.length)
        set.attachments = draft.attachments;
    }
    for (const key of FILLABLE) {
      if (existing[key] === undefined && draft[key] !== undefined) set[key] = draft[key];
    }
    if (
      existing.platform_account_id !== draft.platform_account_id &&
      !existing.platform_account_id
    ) {
      set.platform_account_id = draft.platform_account_id;
    }
    if (Object.keys(set).length === 0) return existing;
    set.updated_at = new Date();
    const updated = await this.dms
      .findOneAndUpdate({ _id: existing._id }, { $set: set }, { new: true, timestamps: false })
      .lean<StoredDm>()
      .exec();
    return updated ?? existing;
  }

  /**
   * Records the DM on its thread. A DM without the customer's name gets it here when the thread
   * knows it by now, or is remembered on the thread for enrichment to name (see fillNames).
   * Runs under the thread's write lock (storeMessage).
   */
  private async recordInConversation(
    dm: StoredDm,
    draft: NewDm,
    opts: { preview?: boolean },
    unreadClaimed?: boolean,
  ): Promise<{ dm: StoredDm; profileFetchedAt?: Date }> {
    if (!dm.customer_id) return { dm };
    // The unread +1 happens once per mid, whoever stored it (claimed on the ledger, possibly
    // already with the mid: `unreadClaimed`).
    let newUnread = false;
    if (dm.direction === 'inbound' && !dm.read && !dm.is_unsent && !dm.is_deleted) {
      newUnread =
        unreadClaimed ??
        (await this.claimOnce(markerKey(draft.platform_account_id, draft.message_id, 'unread')));
    }
    const nameField = customerNameField(dm.direction);
    const unnamed = !dm[nameField];
    const { customerName, profileFetchedAt } = await this.conversations.recordMessage(
      { ...dm, user_id: dm.user_id ?? draft.user_id },
      {
        newUnread,
        preview: opts.preview,
        referral: draft.referral,
        ...(unnamed ? { unnamedDmId: dm._id } : {}),
        ...(dm.direction === 'outbound' && dm.seen !== true
          ? { unseenOutboundDm: { id: dm._id, timestamp: dm.timestamp ?? 0 } }
          : {}),
      },
    );
    if (!unnamed || !customerName) return { dm, profileFetchedAt };
    await this.dms
      .updateOne({ _id: dm._id }, { $set: { [nameField]: customerName } }, { timestamps: false })
      .exec();
    return { dm: { ...dm, [nameField]: customerName }, profileFetchedAt };
  }

  /**
   * The mids among `mids` whose DM is stored (import and reconciliation skip them). One lookup
   * by `_id` each: FerretDB answers `_id: {$in}` with a scan of the whole ledger.
   */
  async knownMids(accountId: string, mids: string[]): Promise<Set<string>> {
    const entries = await Promise.all(
      [...new Set(mids)].map((mid) =>
        this.ledger.findById(ledgerKey(accountId, mid), { dm_id: 1 }).lean().exec(),
      ),
    );
    return new Set(entries.filter((e) => e?.dm_id).map((e) => midOfKey(String(e!._id))));
  }

  // ------------------------------------------------------------------ webhook events

  /** Applies one parsed webhook event for its (routed) account. Idempotent. */
  async applyEvent(event: ParsedEvent, account: RoutedAccount): Promise<ApplyResult> {
    if (!account.ingestEnabled) return { outcome: 'disabled' };
    switch (event.kind) {
      case 'message':
        return this.applyMessage(event, account);
      case 'postback': {
        const customerId = event.senderId;
        const { created } = await this.storeMessage({
          ...this.base(event, account, 'inbound', customerId),
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
            ...this.base(event, account, 'inbound', customerId),
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
        return this.applyTargeted(event, account);
      case 'reaction':
      case 'unsend':
      case 'read':
        return this.applyTargeted(event, account);
      case 'comment':
        return this.storeComment(event, account);
      case 'mention':
        return { outcome: 'noop' };
      case 'ignored':
        return { outcome: 'ignored' };
    }
  }

  private base(
    event: { senderId: string; recipientId: string; timestamp: number; isStandby: boolean },
    account: RoutedAccount,
    direction: Direction,
    customerId: string,
  ) {
    const business = account.name ?? account.username;
    return {
      platform_account_id: account.accountId,
      user_id: account.userId,
      ig_id: account.igId,
      sender_id: event.senderId,
      recipient_id: event.recipientId,
      customer_id: customerId,
      timestamp: event.timestamp,
      direction,
      is_echo: direction === 'outbound',
      read: direction === 'outbound',
      manual_dm: false,
      source: 'webhook' as const,
      ...(event.isStandby ? { is_standby: true } : {}),
      ...(business
        ? direction === 'outbound'
          ? { sender_name: business }
          : { recipient_name: business }
        : {}),
    };
  }

  private isBusiness(id: string, event: { entryId: string }, account: RoutedAccount): boolean {
    return id === account.igId || id === event.entryId;
  }

  private async applyMessage(event: MessageEvent, account: RoutedAccount): Promise<ApplyResult> {
    const draft = this.messageDraft(event, account);
    // The customer's name comes from the thread's cached profile while the DM is recorded.
    const { created, profileFetchedAt, refetchMid } = await this.storeMessage(draft);
    return this.messageResult(draft.customer_id, created, profileFetchedAt, refetchMid);
  }

  private messageResult(
    customerId: string,
    created: boolean,
    profileFetchedAt: Date | undefined,
    refetchMid?: string,
  ): ApplyResult {
    const fresh = profileFetchedAt && Date.now() - profileFetchedAt.getTime() < PROFILE_TTL_MS;
    return {
      outcome: created ? 'stored' : 'duplicate',
      ...(fresh ? {} : { enrich: [customerId] }),
      ...(refetchMid ? { refetchMid } : {}),
    };
  }

  private messageDraft(event: MessageEvent, account: RoutedAccount): NewDm {
    const outbound = event.isEcho || this.isBusiness(event.senderId, event, account);
    const customerId = outbound ? event.recipientId : event.senderId;
    const draft: NewDm = {
      ...this.base(event, account, outbound ? 'outbound' : 'inbound', customerId),
      message_id: event.mid,
      text: event.text,
      message_type: event.messageType,
      raw: event.raw,
    };
    draft.is_echo = event.isEcho;
    const fetchedAt = new Date();
    if (event.attachments.length > 0) {
      draft.attachments = event.attachments.map((a) => ({ ...a, url_fetched_at: fetchedAt }));
    }
    if (event.replyTo) draft.reply_to = event.replyTo;
    if (event.quickReply) draft.quick_reply = event.quickReply;
    if (event.referral) draft.referral = event.referral;
    if (event.isUnsupported) draft.is_unsupported = true;
    return draft;
  }

  // ------------------------------------------------------------------ many new messages at once

  /**
   * The worker's batch door: customers' messages from many deliveries, stored with a handful of
   * bulk writes instead of several writes each. New inbound messages (the bulk of any load) are
   * claimed on the ledger in one unordered insert, their unread markers in a second, their
   * documents in a third; each thread is then recorded under its lock. Anything else (an echo, a
   * mid seen before, an event that arrived before its message, a database still being backfilled)
   * takes `applyEvent`'s path, after the bulk, in the order given. Results are in input order.
   */
  async applyMessages(
    items: { event: MessageEvent; account: RoutedAccount }[],
  ): Promise<ApplyResult[]> {
    const results: (ApplyResult | undefined)[] = new Array(items.length);
    const drafts = items.map(({ event, account }) => this.messageDraft(event, account));
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
    const stored = await this.storeNewInbound(bulk.map((i) => drafts[i]));
    bulk.forEach((i, j) => {
      const done = stored[j];
      if (done)
        results[i] = this.messageResult(
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
   * Stores new inbound messages in bulk; an entry is undefined where the message is not new (or
   * must wait for the one-by-one path), to be stored by `storeMessage`.
   */
  private async storeNewInbound(drafts: NewDm[]): Promise<(BulkStored | undefined)[]> {
    const out: (BulkStored | undefined)[] = drafts.map(() => undefined);
    if (drafts.length === 0) return out;
    // An import or reconciliation that outlived a delete must not write into it (storeMessage).
    const live = new Map<string, boolean>();
    for (const accountId of new Set(drafts.map((d) => d.platform_account_id)))
      live.set(accountId, await this.accounts.isLive(accountId));
    const createdAt = new Date();
    const candidates = drafts.map(() => new Types.ObjectId());
    const wanted = drafts
      .map((draft, i) => ({ draft, i }))
      .filter(({ draft }) => live.get(draft.platform_account_id));
    // 1. Claim the mids: one unordered insert; a key that exists is not new.
    const claimed = await this.insertEach(
      wanted.map(({ draft, i }) => ({
        _id: ledgerKey(draft.platform_account_id, draft.message_id),
        dm_id: candidates[i],
        platform_account_id: draft.platform_account_id,
        created_at: createdAt,
      })),
    );
    const fresh = wanted.filter((_, j) => claimed[j]);
    if (fresh.length === 0) return out;
    // 2. Their unread +1, claimed the same way (a marker can only exist without its entry if a
    // purge raced: then it was counted already).
    const unread = await this.insertEach(
      fresh.map(({ draft }) => ({
        _id: markerKey(draft.platform_account_id, draft.message_id, 'unread'),
        created_at: createdAt,
      })),
    );
    // 3. The customer's name, known to the thread for every message but its first ones.
    const threads = new Map<string, { accountId: string; customerId: string }>();
    for (const { draft } of fresh)
      threads.set(`${draft.platform_account_id}:${draft.customer_id}`, {
        accountId: draft.platform_account_id,
        customerId: draft.customer_id,
      });
    const names = new Map<string, string | undefined>();
    await Promise.all(
      [...threads].map(async ([key, t]) => {
        const conv = await this.conversations.findById(t.accountId, t.customerId);
        names.set(key, conv?.customer?.name ?? conv?.customer?.username);
      }),
    );
    const docs = fresh.map(({ draft, i }) => {
      const name = names.get(`${draft.platform_account_id}:${draft.customer_id}`);
      return this.buildDoc(
        name && !draft.sender_name ? { ...draft, sender_name: name } : draft,
        candidates[i],
      );
    });
    // 4. The documents, in one insert. If it fails the deliveries are retried: their entries name
    // a dm_id with no document, which storeMessage then inserts.
    // Through the model, as `save` does: the same casting and defaults as one-by-one.
    await this.dms.insertMany(docs, { ordered: false, throwOnValidationError: true });
    // 5. Each thread in order under its lock, the threads side by side.
    const byThread = new Map<string, number[]>();
    fresh.forEach(({ draft }, j) => {
      const key = `${draft.platform_account_id}:${draft.customer_id}`;
      byThread.set(key, [...(byThread.get(key) ?? []), j]);
    });
    await Promise.all(
      [...byThread.values()].map((indexes) => {
        const first = fresh[indexes[0]].draft;
        return this.writeLock.forThread(first.platform_account_id, first.customer_id, () =>
          this.recordBulkThread(
            indexes.map((j) => ({ draft: fresh[j].draft, dm: docs[j], unread: unread[j] })),
          ).then((stored) => indexes.forEach((j, k) => (out[fresh[j].i] = stored[k]))),
        );
      }),
    );
    return out;
  }

  /** The new messages of one thread (under its lock): recorded in one write, each announced. */
  private async recordBulkThread(
    stored: { draft: NewDm; dm: StoredDm; unread: boolean }[],
  ): Promise<BulkStored[]> {
    // No event can be waiting on these entries: they were new, and an event that found one
    // claimed before its document existed was sent back to be retried (MessageBeingStoredError).
    const referral = [...stored].reverse().find(({ draft }) => draft.referral)?.draft.referral;
    const recorded = await this.conversations.recordInbound(
      stored.map(({ dm }) => dm),
      {
        newUnread: stored.filter(({ unread }) => unread).length,
        unnamedDmIds: stored.filter(({ dm }) => !dm.sender_name).map(({ dm }) => dm._id),
        ...(referral ? { referral } : {}),
      },
    );
    // Named by enrichment between the batch's read of the thread and now (rare): name them here,
    // since the thread did not take them on its list of DMs to name.
    if (recorded.customerName)
      for (const item of stored.filter(({ dm }) => !dm.sender_name)) {
        await this.dms
          .updateOne(
            { _id: item.dm._id },
            { $set: { sender_name: recorded.customerName } },
            { timestamps: false },
          )
          .exec();
        item.dm = { ...item.dm, sender_name: recorded.customerName };
      }
    return stored.map(({ dm }) => {
      this.emitDm(dm, 'created');
      return {
        dm,
        ...(recorded.profileFetchedAt ? { profileFetchedAt: recorded.profileFetchedAt } : {}),
      };
    });
  }

  /** Inserts ledger documents unordered; true where the insert won (false: the `_id` exists). */
  private async insertEach(
    docs: (Record<string, unknown> & { _id: string })[],
  ): Promise<boolean[]> {
    if (docs.length === 0) return [];
    try {
      await this.ledger.collection.insertMany(docs as never[], { ordered: false });
      return docs.map(() => true);
    } catch (error) {
      const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
      const errors = (
        Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : []
      ) as {
        index?: number;
        code?: number;
        err?: { index?: number; code?: number };
      }[];
      if (errors.length === 0 || !errors.every(isDuplicateKey)) throw error;
      const lost = new Set(errors.map((e) => e.index ?? e.err?.index));
      return docs.map((_, k) => !lost.has(k));
    }
  }

  /** The message this event targets: ledger first (by _id), then a legacy lookup by message_id. */
  private async findTarget(accountId: string, mid: string): Promise<StoredDm | null> {
    const key = ledgerKey(accountId, mid);
    const entry = await this.ledger.findById(key).lean().exec();
    if (entry?.dm_id) {
      const dm = await this.dms.findById(entry.dm_id).lean<StoredDm>().exec();
      if (dm) return dm;
    }
    if (entry?.dm_id) return null; // claimed, not inserted yet: the storer applies pending events
    if (!this.legacyLedger.mayHaveUnledgeredDms()) return null;
    const legacy = await this.findLegacy(accountId, mid);
    if (legacy) {
      await this.ledger
        .updateOne(
          { _id: key, dm_id: { $exists: false } },
          { $set: { dm_id: legacy._id, platform_account_id: legacy.platform_account_id } },
        )
        .exec();
    }
    return legacy;
  }

  /**
   * Edit, reaction, unsend or read. When the target is missing the event waits on the ledger;
   * storeMessage re-reads the ledger after inserting, and the event re-checks after recording,
   * so whichever comes second applies it (every application is idempotent).
   */
  private async applyTargeted(event: TargetEvent, account: RoutedAccount): Promise<ApplyResult> {
    const target = await this.findTarget(account.accountId, event.mid);
    const { routingIds: _r, entryId: _e, ...pending } = event;
    if (target) return this.applyToDmLocked(target, pending);
    const key = ledgerKey(account.accountId, event.mid);
    const current = await this.ledger.findById(key).lean().exec();
    // Claimed, its document not written yet: the event is retried with its delivery in a moment,
    // whoever is storing the message (the batch path does not look for waiting events).
    if (current?.dm_id) throw new MessageBeingStoredError();
    const known = ((current?.pending ?? []) as unknown as PendingEntry[]).some(
      (p) => pendingKey(p) === pendingKey(pending),
    );
    if (known) return { outcome: 'pending' };
    const after = await this.ledgerWrites.run(key, () =>
      this.pushPending(key, pending, account.accountId),
    );
    if (after?.dm_id) {
      const dm = await this.dms.findById(after.dm_id).lean<StoredDm>().exec();
      if (dm) return this.applyToDmLocked(dm, pending);
      throw new MessageBeingStoredError();
    }
    this.logger.log(
      { mid: event.mid, accountId: account.accountId, kind: event.kind },
      'event waits for its message',
    );
    return { outcome: 'pending' };
  }

  /** Records an event on its message's ledger entry (created when the message is not known). */
  private async pushPending(key: string, pending: PendingEntry, accountId: string) {
    try {
      return await this.ledger
        .findOneAndUpdate(
          { _id: key },
          {
            $push: { pending: pending as unknown as Record<string, unknown> },
            $setOnInsert: { created_at: new Date(), platform_account_id: accountId },
          },
          { upsert: true, new: true },
        )
        .lean()
        .exec();
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      return this.ledger
        .findOneAndUpdate(
          { _id: key },
          { $push: { pending: pending as unknown as Record<string, unknown> } },
          { new: true },
        )
        .lean()
        .exec();
    }
  }

  /** applyToDm under the thread's write lock, on the document as it is once the lock is held. */
  private applyToDmLocked(dm: StoredDm, event: PendingEntry): Promise<ApplyResult> {
    return this.writeLock.forDm(dm, async () => {
      const current = await this.dms.findById(dm._id).lean<StoredDm>().exec();
      return current ? this.applyToDm(current, event) : { outcome: 'noop' as const };
    });
  }

  private async applyToDm(dm: StoredDm, event: PendingEntry): Promise<ApplyResult> {
    switch (event.kind) {
      case 'edit':
        return this.applyEdit(dm, event);
      case 'reaction':
        return this.applyReaction(dm, event);
      case 'unsend':
        return this.applyUnsend(dm, event);
      case 'read':
        return this.applyRead(dm, event);
    }
  }

  private async applyEdit(
    dm: StoredDm,
    event: Omit<EditEvent, 'routingIds' | 'entryId'>,
  ): Promise<ApplyResult> {
    if (dm.is_unsent) return { outcome: 'noop' };
    if (event.text === undefined && event.numEdit <= 0) return { outcome: 'noop' };
    const current = dm.edit_count ?? 0;
    if (current > event.numEdit || (current === event.numEdit && event.text === dm.text))
      return { outcome: 'noop' };
    if (current === event.numEdit && event.text === undefined) return { outcome: 'noop' };
    const update: UpdateQuery<InstagramDm> =
      event.text !== undefined
        ? {
            $set: {
              text: event.text,
              edited_at: new Date(event.timestamp),
              edit_count: event.numEdit,
              updated_at: new Date(),
            },
            $unset: { edit_text_pending: '' },
          }
        : {
            $set: {
              edited_at: new Date(event.timestamp),
              edit_count: event.numEdit,
              edit_text_pending: true,
              updated_at: new Date(),
            },
          };
    const res = await this.dms
      .updateOne(
        // `dm` was read under the thread's write lock and checked above; a bare `{_id}` filter is
        // the only one FerretDB serves from an index.
        { _id: dm._id },
        update,
        { timestamps: false },
      )
      .exec();
    if (res.modifiedCount > 0) {
      this.emitDm(dm, 'updated');
      if (event.text !== undefined && dm.customer_id) {
        await this.conversations.recordMessage({ ...dm, text: event.text });
      }
    }
    return event.text === undefined
      ? { outcome: 'updated', refetchMid: dm.message_id }
      : { outcome: 'updated' };
  }

  private async applyReaction(
    dm: StoredDm,
    event: Omit<ReactionEvent, 'routingIds' | 'entryId'>,
  ): Promise<ApplyResult> {
    const others = (dm.reactions ?? []).filter((r) => r.sender_id !== event.senderId);
    const mine = (dm.reactions ?? []).find((r) => r.sender_id === event.senderId);
    const otherRemovals = (dm.reactions_removed ?? []).filter(
      (r) => r.sender_id !== event.senderId,
    );
    const removed = (dm.reactions_removed ?? []).find((r) => r.sender_id === event.senderId);
    // Meta may deliver a react after the unreact that followed it (retries, concurrent
    // deliveries): the newest of the two wins, whichever is processed last.
    if (removed && new Date(removed.at).getTime() >= event.timestamp) return { outcome: 'noop' };
    if (mine?.at && new Date(mine.at).getTime() > event.timestamp) return { outcome: 'noop' };
    let next: DmReaction[];
    let removals = otherRemovals;
    if (event.action === 'unreact') {
      next = others;
      removals = [...otherRemovals, { sender_id: event.senderId, at: new Date(event.timestamp) }];
    } else {
      if (mine && mine.reaction === event.reaction && mine.emoji === event.emoji)
        return { outcome: 'noop' };
      next = [
        ...others,
        {
          sender_id: event.senderId,
          reaction: event.reaction,
          emoji: event.emoji,
          at: new Date(event.timestamp),
        },
      ];
    }
    // FerretDB ignores a conditional $pull: the whole array is written.
    await this.dms
      .updateOne(
        { _id: dm._id },
        {
          $set: {
            reactions: next,
            ...(removals.length > 0 ? { reactions_removed: removals } : {}),
            updated_at: new Date(),
          },
          ...(removals.length > 0 ? {} : { $unset: { reactions_removed: '' } }),
        },
        { timestamps: false },
      )
      .exec();
    if (event.action === 'unreact' && !mine) return { outcome: 'noop' };
    this.emitDm(dm, 'updated');
    return { outcome: 'updated' };
  }

  private async applyUnsend(
    dm: StoredDm,
    event: Omit<UnsendEvent, 'routingIds' | 'entryId'>,
  ): Promise<ApplyResult> {
    if (dm.is_unsent) return { outcome: 'noop' };
    await this.dms
      .updateOne(
        { _id: dm._id },
        {
          $set: {
            text: null,
            attachments: [],
            is_unsent: true,
            unsent_at: new Date(event.timestamp),
            updated_at: new Date(),
          },
          $unset: { 'raw.text': '', 'raw.attachments': '', edit_text_pending: '' },
        },
        { timestamps: false },
      )
      .exec();
    if (dm.customer_id) {
      await this.conversations.clearPreview(
        dm.platform_account_id,
        dm.customer_id,
        dm.message_id ?? '',
      );
      if (dm.direction === 'inbound' && !dm.read) {
        await this.conversations.recountUnread(dm.platform_account_id, dm.customer_id);
      }
      this.conversations.emitChanged(
        dm.user_id ?? '',
        dm.platform_account_id,
        this.conversations.conversationId(dm.platform_account_id, dm.customer_id),
      );
    }
    this.emitDm(dm, 'updated');
    return { outcome: 'updated' };
  }

  /** The customer saw our message `read.mid` and everything we sent before it in the thread. */
  /**
   * A read receipt: every outbound DM of the thread up to the watermark DM is seen. They are
   * marked by the ids the thread remembers (see ConversationsService.takeSeen); a thread that
   * does not remember them (older data, or too many) is queried once and remembered from then on.
   */
  private async applyRead(
    dm: StoredDm,
    event: Omit<ReadEvent, 'routingIds' | 'entryId'>,
  ): Promise<ApplyResult> {
    if (dm.direction !== 'outbound' || !dm.customer_id) return { outcome: 'noop' };
    const accountId = dm.platform_account_id;
    const customerId = dm.customer_id;
    const watermark = dm.timestamp ?? 0;
    const seen = { $set: { seen: true, seen_at: new Date(event.timestamp) } };
    let ids = await this.conversations.takeSeen(accountId, customerId, watermark);
    if (!ids) {
      // One query lists the thread's unseen outbound DMs: the due ones are marked below, the
      // rest remembered for the next receipt.
      const unseen = await this.dms
        .find(
          {
            platform_account_id: accountId,
            customer_id: customerId,
            direction: 'outbound',
            seen: { $ne: true },
          },
          { _id: 1, timestamp: 1 },
        )
        .lean()
        .exec();
      const later = unseen.filter((d) => (d.timestamp ?? 0) > watermark);
      ids = unseen.filter((d) => (d.timestamp ?? 0) <= watermark).map((d) => d._id);
      await this.conversations.trackUnseen(
        accountId,
        customerId,
        later.map((d) => ({ id: d._id, timestamp: d.timestamp ?? 0 })),
      );
    }
    // The watermark DM itself is not remembered yet when the receipt waited for it (pending).
    if (dm.seen !== true && !ids.some((id) => id.equals(dm._id))) ids = [...ids, dm._id];
    let modified = 0;
    for (const _id of ids) {
      modified += (await this.dms.updateOne({ _id }, seen).exec()).modifiedCount;
    }
    if (modified > 0) {
      this.emitDm(dm, 'updated');
      this.conversations.emitChanged(
        dm.user_id ?? '',
        accountId,
        this.conversations.conversationId(accountId, customerId),
      );
    }
    return { outcome: modified > 0 ? 'updated' : 'noop' };
  }

  private async storeComment(event: CommentEvent, account: RoutedAccount): Promise<ApplyResult> {
    const from = event.from ?? {};
    const isOwn = !!from.self_ig_scoped_id || from.id === account.igId || from.id === event.entryId;
    const res = await this.comments
      .updateOne(
        { _id: event.commentId },
        {
          $setOnInsert: {
            user_id: account.userId,
            platform_account_id: account.accountId,
            ig_id: account.igId,
            field: event.field,
            media: event.media,
            from: event.from,
            text: event.text,
            parent_id: event.parentId,
            is_own: isOwn,
            created_at: new Date(event.timestamp),
            raw: event.raw,
          },
        },
        { upsert: true },
      )
      .exec();
    return { outcome: res.upsertedCount > 0 ? 'stored' : 'duplicate' };
  }

  // ------------------------------------------------------------------ after the ack

  /**
   * Customer profile (cached on the thread, one Graph call per customer per day) and names on
   * the thread's DMs. Throws when Graph or the token fails; the caller retries later.
   */
  async enrichConversation(
    account: RoutedAccount,
    customerId: string,
    force = false,
  ): Promise<void> {
    if (account.status !== 'active' || !account.ingestEnabled) {
      // Meta would refuse the token, or the user turned the account off: nothing is tried until
      // it is reconnected or turned on again (resumeProfiles).
      await this.conversations.profileParked(account.accountId, customerId);
      return;
    }
    const conv = await this.conversations.findById(account.accountId, customerId);
    if (!conv) return;
    const fetchedAt = conv.customer?.fetched_at ? new Date(conv.customer.fetched_at).getTime() : 0;
    let profile = conv.customer;
    try {
      if (force || conv.profile_pending || Date.now() - fetchedAt >= PROFILE_TTL_MS) {
        const graphAccount = await this.accounts.getGraphAccount(account.accountId);
        const p = await this.graph.getUserProfile(graphAccount, customerId);
        profile = {
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
        await this.conversations.setProfile(account.accountId, customerId, profile);
      }
      await this.fillNames(account, customerId, profile?.name ?? profile?.username);
    } catch (error) {
      if (error instanceof AppError && error.code === 'ACCOUNT_REAUTH_REQUIRED') {
        // Found out while fetching (revoked since it was routed, or a token that does not decrypt).
        await this.conversations.profileParked(account.accountId, customerId);
        return;
      }
      const attempts = (conv.profile_attempts ?? 0) + 1;
      const delay = Math.min(this.retryBaseMs * 2 ** (attempts - 1), 3600_000);
      await this.conversations.profileFailed(
        account.accountId,
        customerId,
        new Date(Date.now() + delay),
      );
      throw error;
    }
  }

  /** Base delay of the profile retry backoff (tests shorten it). */
  retryBaseMs = 5_000;

  /**
   * Puts the customer's name on the thread's DMs stored before it was known. They are named by
   * id (remembered on the thread when stored); only an overflowing thread is named by query,
   * which FerretDB answers with a scan. The business's name is set when a DM is stored.
   */
  private async fillNames(
    account: RoutedAccount,
    customerId: string,
    customerName: string | undefined,
  ): Promise<void> {
    if (!customerName) return;
    const { ids, overflow } = await this.conversations.takeUnnamed(account.accountId, customerId);
    await this.writeLock.forThread(account.accountId, customerId, async () => {
      for (const _id of ids) {
        const dm = await this.dms.findById(_id, {
          direction: 1,
          sender_name: 1,
          recipient_name: 1,
        });
        if (!dm) continue;
        const field = customerNameField(dm.direction);
        if (dm[field]) continue;
        await this.dms
          .updateOne({ _id }, { $set: { [field]: customerName } }, { timestamps: false })
          .exec();
      }
      if (!overflow) return;
      const scope = { platform_account_id: account.accountId, customer_id: customerId };
      for (const direction of ['inbound', 'outbound'] as const) {
        const field = customerNameField(direction);
        await this.dms
          .updateMany(
            { ...scope, direction, [field]: { $exists: false } },
            { $set: { [field]: customerName } },
          )
          .exec();
      }
    });
  }

  /** A text-less edit (num_edit > 0): the new text comes from Graph; the old text stays until then. */
  async refetchEditedText(account: RoutedAccount, mid: string): Promise<void> {
    const target = await this.findTarget(account.accountId, mid);
    if (!target?.edit_text_pending) return;
    const graphAccount = await this.accounts.getGraphAccount(account.accountId);
    const message = await this.graph.getMessage(graphAccount, mid);
    if (typeof message.message !== 'string') return;
    const text = message.message;
    const res = await this.writeLock.forDm(target, async () => {
      const current = await this.dms.findById(target._id, { edit_text_pending: 1 }).lean().exec();
      if (!current?.edit_text_pending) return { modifiedCount: 0 };
      return this.dms
        .updateOne(
          { _id: target._id },
          { $set: { text, updated_at: new Date() }, $unset: { edit_text_pending: '' } },
          { timestamps: false },
        )
        .exec();
    });
    if (res.modifiedCount > 0) {
      this.emitDm(target, 'updated');
      // The thread's preview shows the new text if this is its last message.
      if (target.customer_id) await this.conversations.recordMessage({ ...target, text });
    }
  }

  private emitDm(dm: StoredDm, change: 'created' | 'updated'): void {
    const event: DmChangedEvent = {
      userId: dm.user_id ?? '',
      accountId: dm.platform_account_id,
      dmId: dm._id.toHexString(),
      conversationId: this.conversations.conversationId(
        dm.platform_account_id,
        dm.customer_id ?? '',
      ),
      change,
    };
    this.events.emit(DM_CHANGED, event);
  }
}
