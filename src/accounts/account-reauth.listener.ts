import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import {
  INSTAGRAM_TOKEN_INVALID,
  InstagramTokenInvalidEvent,
} from '../instagram-graph/instagram-graph.types';
import { AccountWriteLock } from './account-write-lock';
import { Account, AccountStatus } from './schemas/account.schema';

/**
 * Marks the accounts of an Instagram id as needing reauth when Meta rejects its token (code 190),
 * so the dashboard asks the owner to reconnect instead of every later call failing the same way.
 */
@Injectable()
export class AccountReauthListener {
  private readonly logger = new Logger(AccountReauthListener.name);

  constructor(
    @InjectModel(Account.name) private readonly accounts: Model<Account>,
    private readonly writeLock: AccountWriteLock,
  ) {}

  @OnEvent(INSTAGRAM_TOKEN_INVALID)
  async onTokenInvalid(event: InstagramTokenInvalidEvent): Promise<void> {
    try {
      const live = { is_deleted: { $ne: true } };
      const matching = await this.accounts
        .find(
          {
            $or: [{ 'instagram_data.ig_id': event.igId }, { 'instagram_data.id': event.igId }],
            ...live,
          },
          { _id: 1 },
        )
        .lean<{ _id: Types.ObjectId }[]>()
        .exec();
      let marked = 0;
      for (const { _id } of matching) {
        const result = await this.writeLock.run(_id, () =>
          this.accounts.collection.updateOne(
            { _id, ...live },
            {
              $set: {
                status: AccountStatus.NeedsReauth,
                status_reason: `${event.reason} (Meta code ${event.code}${event.subcode ? `/${event.subcode}` : ''})`,
                updated_at: new Date(),
              },
            },
          ),
        );
        marked += result.modifiedCount;
      }
      this.logger.warn(
        { igId: event.igId, code: event.code, subcode: event.subcode, accounts: marked },
        'account needs reauth',
      );
    } catch (error) {
      this.logger.error(
        { err: error, igId: event.igId },
        'could not mark account as needing reauth',
      );
    }
  }
}
