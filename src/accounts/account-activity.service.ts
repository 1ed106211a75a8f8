import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { AccountActivity, ActivityField } from './schemas/account-activity.schema';

const DUPLICATE_KEY = 11000;
/** At most one write a minute per account and field. */
export const ACTIVITY_THROTTLE_MS = 60_000;

export type Activity = Pick<AccountActivity, ActivityField>;

@Injectable()
export class AccountActivityService {
  constructor(
    @InjectModel(AccountActivity.name) private readonly activity: Model<AccountActivity>,
  ) {}

  /** Records `at` unless the stored time is already within the throttle window. */
  async record(accountId: string, field: ActivityField, at: Date): Promise<void> {
    if (!Types.ObjectId.isValid(accountId)) return;
    const filter = {
      _id: new Types.ObjectId(accountId),
      $or: [
        { [field]: { $exists: false } },
        { [field]: { $lt: new Date(at.getTime() - ACTIVITY_THROTTLE_MS) } },
      ],
    };
    const update = { $set: { [field]: at } };
    try {
      await this.activity.collection.updateOne(filter, update, { upsert: true });
    } catch (error) {
      if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
      // The row exists: either this field is recent (nothing to do) or a concurrent first write
      // of the other field created it a moment ago; the plain update settles which.
      await this.activity.collection.updateOne(filter, update);
    }
  }

  async of(accountIds: Types.ObjectId[]): Promise<Map<string, Activity>> {
    if (accountIds.length === 0) return new Map();
    const rows = await this.activity
      .find({ _id: { $in: accountIds } })
      .lean<AccountActivity[]>()
      .exec();
    return new Map(rows.map(({ _id, ...times }) => [_id.toHexString(), times]));
  }

  async forget(accountId: string): Promise<void> {
    if (!Types.ObjectId.isValid(accountId)) return;
    await this.activity.collection.deleteOne({ _id: new Types.ObjectId(accountId) });
  }
}

/** The most recent of the times given; null when none is. */
export function latest(...times: (Date | string | null | undefined)[]): Date | null {
  return times.reduce<Date | null>((newest, given) => {
    // Strings: a document written by hand or another tool; an unparseable one is ignored.
    const t = given == null ? null : new Date(given);
    return t && !Number.isNaN(t.getTime()) && (!newest || t > newest) ? t : newest;
  }, null);
}
