import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { AccountGoneError, AccountsService } from '../../accounts/accounts.service';
import { ConversationsService } from '../conversations.service';
import { customerOf, DmWriteLock } from '../dm-write-lock';
import { LegacyLedgerService } from '../legacy-ledger.service';
import { ledgerKey, markerKey } from '../ledger-keys';
import { InstagramDm } from '../schemas/instagram-dm.schema';
import { DmChangeEmitter } from './dm-change-emitter';
import {
  customerNameField,
  type NewDm,
  type PendingEntry,
  type StoredDm,
  type StoreResult,
} from './ingest.types';
import { isDuplicateKey } from '../../common/database/duplicate-key';
import { DmLedger } from './ledger';
import { TargetEventApplier } from './target-events';

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

/**
 * One message at a time: claims its mid on the ledger, inserts or merges its one document,
 * applies the events that waited for it and records it on its thread.
 */
@Injectable()
export class MessageStore {
  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    private readonly ledger: DmLedger,
    private readonly legacyLedger: LegacyLedgerService,
    private readonly conversations: ConversationsService,
    private readonly accounts: AccountsService,
    private readonly writeLock: DmWriteLock,
    private readonly targetEvents: TargetEventApplier,
    private readonly changes: DmChangeEmitter,
  ) {}

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
    // for an inbound unread message its unread +1 with it (`unread_counted`).
    let newMid = false;
    let unreadClaimed: boolean | undefined;
    if (!this.legacyLedger.mayHaveUnledgeredDms()) {
      const candidate = new Types.ObjectId();
      const countsUnread = draft.direction === 'inbound' && !draft.read;
      newMid = await this.ledger.insertOnce({
        _id: key,
        dm_id: candidate,
        platform_account_id: accountId,
        created_at: new Date(),
        ...(countsUnread ? { unread_counted: true } : {}),
      });
      if (newMid) {
        dmId = candidate;
        if (countsUnread) unreadClaimed = true;
      }
    }
    if (!dmId) {
      const entry = await this.ledger.findEntry(key);
      dmId = entry?.dm_id;
      // Counted by whoever created the entry; otherwise the `#unread` marker decides.
      if (entry?.unread_counted) unreadClaimed = false;
    }

    if (!dmId) {
      // Legacy data (the Python service) has documents but no ledger entries until the
      // start-up backfill has run; after it, the ledger alone is the truth.
      const legacy = this.legacyLedger.mayHaveUnledgeredDms()
        ? await this.ledger.findLegacy(accountId, mid)
        : null;
      const candidate = legacy?._id ?? new Types.ObjectId();
      const claimed = await this.ledger.claimLedger(accountId, mid, candidate);
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
      const fresh = await this.ledger.findEntry(key);
      const pending = (fresh?.pending ?? []) as unknown as PendingEntry[];
      if (pending.length > 0) {
        for (const p of [...pending].sort((a, b) => a.timestamp - b.timestamp)) {
          refetchMid = (await this.targetEvents.applyToDm(dm, p)).refetchMid ?? refetchMid;
          dm = (await this.dms.findById(dm._id).lean<StoredDm>().exec()) ?? dm;
        }
      }
    }
    const recorded = await this.recordInConversation(dm, draft, opts, unreadClaimed);
    dm = recorded.dm;
    this.changes.emit(dm, created ? 'created' : 'updated');
    return {
      dm,
      created,
      profileFetchedAt: recorded.profileFetchedAt,
      ...(refetchMid ? { refetchMid } : {}),
    };
  }

  buildDoc(draft: NewDm, _id: Types.ObjectId): StoredDm {
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
        (await this.ledger.claimOnce(
          markerKey(draft.platform_account_id, draft.message_id, 'unread'),
        ));
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
}
