import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { AccountActivityService } from './account-activity.service';
import { AccountWriteLock } from './account-write-lock';
import type { AccountDeletedEvent } from './accounts.types';
import { Account } from './schemas/account.schema';

/**
 * The purge bookkeeping on `accounts` for the dms module, which deletes a purged account's DMs:
 * `purge_requested_at` is written with the delete, so a purge cut short by a restart resumes.
 */
@Injectable()
export class AccountPurgeStateService {
  constructor(
    @InjectModel(Account.name) private readonly accounts: Model<Account>,
    private readonly activity: AccountActivityService,
    private readonly writeLock: AccountWriteLock,
  ) {}

  /** Deleted accounts whose purge was asked for and has not finished (resumed at start-up). */
  async pendingPurges(): Promise<AccountDeletedEvent[]> {
    const docs = await this.accounts
      .find({ is_deleted: true, purge_requested_at: { $exists: true } }, { _id: 1, user_id: 1 })
      .limit(1_000)
      .lean<{ _id: Types.ObjectId; user_id: string }[]>()
      .exec();
    return docs.map((d) => ({ accountId: d._id.toHexString(), userId: d.user_id, purge: true }));
  }

  /** False once the account was reconnected (revived): its DMs must not be deleted any more. */
  async isPurgePending(accountId: string): Promise<boolean> {
    if (!Types.ObjectId.isValid(accountId)) return false;
    const doc = await this.accounts
      .findOne({ _id: new Types.ObjectId(accountId), is_deleted: true }, { purge_requested_at: 1 })
      .lean<{ purge_requested_at?: Date }>()
      .exec();
    return !!doc?.purge_requested_at;
  }

  async markPurged(accountId: string): Promise<void> {
    if (!Types.ObjectId.isValid(accountId)) return;
    await this.writeLock.run(accountId, () =>
      this.accounts.collection.updateOne(
        { _id: new Types.ObjectId(accountId), is_deleted: true },
        { $set: { purged_at: new Date() }, $unset: { purge_requested_at: '' } },
      ),
    );
    await this.activity.forget(accountId);
  }
}
