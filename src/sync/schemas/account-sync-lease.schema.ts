import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Claims of sync work. Inserting the row is the claim: a unique `_id` insert is the one write
 * that is atomic on every backend igdm supports (FerretDB's conditional updates are not).
 * - `<accountId>:import`: the import of an account runs on one instance; taken over when stale.
 * - `<accountId>:reconcile:<windowStart>`: one reconciliation of an account per interval window,
 *   kept until `until` so no other instance repeats it, then purged.
 */
@Schema({ collection: 'account_sync_leases', versionKey: false })
export class AccountSyncLease {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) owner!: string;
  @Prop({ required: true }) until!: Date;
}

export const AccountSyncLeaseSchema = SchemaFactory.createForClass(AccountSyncLease);
// The purge of window claims whose interval has passed.
AccountSyncLeaseSchema.index({ until: 1 });
