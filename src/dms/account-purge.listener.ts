import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { ConversationsService } from './conversations.service';
import { AccountPurgeStateService } from '../accounts/account-purge-state.service';
import { ACCOUNT_DELETED, AccountDeletedEvent } from '../accounts/accounts.types';
import { customerOf } from './dm-write-lock';
import { ledgerKey, markerKey } from './ledger-keys';
import { DM_CHANGED, DmChangedEvent } from './events/dm-events';
import { InstagramComment } from './schemas/instagram-comment.schema';
import { InstagramDmId } from './schemas/instagram-dm-id.schema';
import { InstagramDm } from './schemas/instagram-dm.schema';

/** DMs deleted per round: bounded memory and one `$in` the database serves by `_id`. */
const BATCH = 500;

type DmKeys = Pick<
  InstagramDm,
  'direction' | 'customer_id' | 'sender_id' | 'recipient_id' | 'message_id'
> & { _id: Types.ObjectId };

export interface PurgeResult {
  dms: number;
  conversations: number;
  comments: number;
  ledger: number;
}

/**
 * `account.deleted` with `purge: true` (DELETE /accounts/:id?purge=true): deletes the account's
 * DMs with their idempotency ledger entries, its conversations and comments, and tells live
 * streams about every deleted DM (`dm.changed`, change 'deleted'). Without purge the DMs stay.
 * The account carries `purge_requested_at` until this finishes, so a purge cut short by a restart
 * resumes at start-up. Ledger entries that never got a DM (events whose message never arrived)
 * are left: finding them by platform_account_id would scan the ledger, which has no such index.
 */
@Injectable()
export class AccountPurgeListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AccountPurgeListener.name);
  /** Accounts being purged by this process (the event and the start-up resume may overlap). */
  private readonly running = new Map<string, Promise<PurgeResult | null>>();
  private stopped = false;

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    @InjectModel(InstagramDmId.name) private readonly ledger: Model<InstagramDmId>,
    private readonly threads: ConversationsService,
    @InjectModel(InstagramComment.name) private readonly comments: Model<InstagramComment>,
    private readonly purgeState: AccountPurgeStateService,
    private readonly events: EventEmitter2,
  ) {}

  @OnEvent(ACCOUNT_DELETED, { async: true, promisify: true, suppressErrors: true })
  async onAccountDeleted(event: AccountDeletedEvent): Promise<void> {
    if (!event?.purge) return;
    await this.purge(event);
  }

  onApplicationBootstrap(): void {
    // After the listeners are up, not in the way of start-up.
    setImmediate(() => void this.resumePending());
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** Purges of deleted accounts that a previous process did not finish. */
  async resumePending(): Promise<void> {
    try {
      for (const event of await this.purgeState.pendingPurges()) {
        if (this.stopped) return;
        await this.purge(event);
      }
    } catch (error) {
      if (!this.stopped)
        this.logger.warn({ err: (error as Error).name }, 'could not resume pending purges');
    }
  }

  /** Idempotent; resolves null when it did not run to the end (reconnected, shut down, failed). */
  purge(event: AccountDeletedEvent): Promise<PurgeResult | null> {
    const current = this.running.get(event.accountId);
    if (current) return current;
    const run = this.run(event).finally(() => this.running.delete(event.accountId));
    this.running.set(event.accountId, run);
    return run;
  }

  private async run({ accountId, userId }: AccountDeletedEvent): Promise<PurgeResult | null> {
    const result: PurgeResult = { dms: 0, conversations: 0, comments: 0, ledger: 0 };
    try {
      // DMs first, in batches, each followed by its deletion events; a webhook delivery still in
      // flight may add one meanwhile, so the loop runs until none is left.
      for (;;) {
        if (this.stopped || !(await this.purgeState.isPurgePending(accountId))) return null;
        const batch = await this.dms
          .find(
            { platform_account_id: accountId },
            { _id: 1, direction: 1, customer_id: 1, sender_id: 1, recipient_id: 1, message_id: 1 },
          )
          .limit(BATCH)
          .lean<DmKeys[]>()
          .exec();
        if (batch.length === 0) break;
        const ids = batch.map((d) => d._id);
        result.dms += (await this.dms.deleteMany({ _id: { $in: ids } })).deletedCount;
        // Every ledger key of this account's messages, markers included, is known from the
        // batch (keys are per account, see ledger-keys.ts): a stale `#unread` would keep the
        // message from counting as unread if Meta delivers it again after a reconnect, a stale
        // `#claim` would block the entry's claim.
        const keys = batch
          .filter((d) => !!d.message_id)
          .flatMap((d) => [
            ledgerKey(accountId, d.message_id!),
            markerKey(accountId, d.message_id!, 'claim'),
            markerKey(accountId, d.message_id!, 'unread'),
          ]);
        if (keys.length)
          result.ledger += (await this.ledger.deleteMany({ _id: { $in: keys } })).deletedCount;
        for (const dm of batch) this.emitDeleted(userId, accountId, dm);
      }
      result.conversations = await this.threads.deleteAccountThreads(accountId);
      // Private-reply claims go with their comments: the account may be connected again.
      const commentIds = await this.comments
        .find({ platform_account_id: accountId }, { _id: 1 })
        .lean<{ _id: string }[]>()
        .exec();
      if (commentIds.length)
        result.ledger += (
          await this.ledger.deleteMany({
            _id: { $in: commentIds.map((c) => markerKey(accountId, c._id, 'private_reply')) },
          })
        ).deletedCount;
      result.comments = (
        await this.comments.deleteMany({ platform_account_id: accountId })
      ).deletedCount;
      await this.purgeState.markPurged(accountId);
      this.logger.log({ accountId, ...result }, 'account purged');
      return result;
    } catch (error) {
      // purge_requested_at stays: the next start-up tries again.
      this.logger.error({ accountId, err: (error as Error).name }, 'account purge failed');
      return null;
    }
  }

  private emitDeleted(userId: string, accountId: string, dm: DmKeys): void {
    const event: DmChangedEvent = {
      userId,
      accountId,
      dmId: dm._id.toHexString(),
      conversationId: `${accountId}:${customerOf(dm) ?? ''}`,
      change: 'deleted',
    };
    this.events.emit(DM_CHANGED, event);
  }
}
