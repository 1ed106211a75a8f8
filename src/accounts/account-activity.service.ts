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
    try {
      await this.activity.collection.updateOne(
        {
          _id: new Types.ObjectId(accountId),
          $or: [
            { [field]: { $exists: false } },
            { [field]: { $lt: new Date(at.getTime() - ACTIVITY_THROTTLE_MS) } },
          ],
        },
        { $set: { [field]: at } },
        { upsert: true },
      );
    } catch (error) {
      // The row exists and is recent enough: the upsert's insert collided with it, as intended.
      if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
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
}

/** The most recent of the times given; null when none is. */
export function latest(...times: (Date | null | undefined)[]): Date | null {
  return times.reduce<Date | null>(
    (newest, t) => (t && (!newest || t.getTime() > newest.getTime()) ? t : newest),
    null,
  );
}
