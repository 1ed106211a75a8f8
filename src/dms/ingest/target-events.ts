import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, UpdateQuery } from 'mongoose';
import type { RoutedAccount } from '../../accounts/accounts.types';
import { ConversationsService } from '../conversations.service';
import { DmWriteLock } from '../dm-write-lock';
import { ledgerKey } from '../ledger-keys';
import type {
  ApplyResult,
  EditEvent,
  ReactionEvent,
  ReadEvent,
  UnsendEvent,
} from '../events/ingest-event.types';
import { DmReaction, InstagramDm } from '../schemas/instagram-dm.schema';
import { DmChangeEmitter } from './dm-change-emitter';
import type { PendingEntry, StoredDm, TargetEvent } from './ingest.types';
import { DmLedger } from './ledger';
import { MessageBeingStoredError } from './message-being-stored.error';

/** Two deliveries of one event are one pending entry (Meta retries re-send the same event). */
function pendingKey(p: PendingEntry): string {
  return `${p.kind}:${p.senderId}:${p.timestamp}`;
}

/**
 * Events about a stored message (edit, reaction, unsend, read): applied to it under its thread's
 * lock, or left waiting on its ledger entry until the message is stored (MessageStore applies
 * them then).
 */
@Injectable()
export class TargetEventApplier {
  private readonly logger = new Logger(TargetEventApplier.name);

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    private readonly ledger: DmLedger,
    private readonly conversations: ConversationsService,
    private readonly writeLock: DmWriteLock,
    private readonly changes: DmChangeEmitter,
  ) {}

  /**
   * Edit, reaction, unsend or read. When the target is missing the event waits on the ledger;
   * storeMessage re-reads the ledger after inserting, and the event re-checks after recording,
   * so whichever comes second applies it (every application is idempotent).
   */
  async applyTargeted(event: TargetEvent, account: RoutedAccount): Promise<ApplyResult> {
    const target = await this.ledger.findTarget(account.accountId, event.mid);
    const { routingIds: _r, entryId: _e, ...pending } = event;
    if (target) return this.applyToDmLocked(target, pending);
    const key = ledgerKey(account.accountId, event.mid);
    const current = await this.ledger.findEntry(key);
    // Claimed, its document not written yet: the event is retried with its delivery in a moment,
    // whoever is storing the message (the batch path does not look for waiting events).
    if (current?.dm_id) throw new MessageBeingStoredError();
    const known = ((current?.pending ?? []) as unknown as PendingEntry[]).some(
      (p) => pendingKey(p) === pendingKey(pending),
    );
    if (known) return { outcome: 'pending' };
    const after = await this.ledger.pushPending(key, pending, account.accountId);
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

  /** applyToDm under the thread's write lock, on the document as it is once the lock is held. */
  applyToDmLocked(dm: StoredDm, event: PendingEntry): Promise<ApplyResult> {
    return this.writeLock.forDm(dm, async () => {
      const current = await this.dms.findById(dm._id).lean<StoredDm>().exec();
      return current ? this.applyToDm(current, event) : { outcome: 'noop' as const };
    });
  }

  async applyToDm(dm: StoredDm, event: PendingEntry): Promise<ApplyResult> {
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
      this.changes.emit(dm, 'updated');
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
    this.changes.emit(dm, 'updated');
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
    this.changes.emit(dm, 'updated');
    return { outcome: 'updated' };
  }

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
      this.changes.emit(dm, 'updated');
      this.conversations.emitChanged(
        dm.user_id ?? '',
        accountId,
        this.conversations.conversationId(accountId, customerId),
      );
    }
    return { outcome: modified > 0 ? 'updated' : 'noop' };
  }
}
