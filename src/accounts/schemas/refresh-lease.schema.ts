import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Who is refreshing an account's token right now: `_id` is the account id, so inserting the row is
 * the claim. A unique-key insert is the one write that is atomic on every backend igdm supports
 * (FerretDB's findOneAndUpdate and conditional updates are not, under concurrency).
 */
@Schema({ collection: 'account_refresh_leases', versionKey: false })
export class RefreshLease {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) owner!: string;
  /** After this the lease is stale (its instance died) and may be taken over. */
  @Prop({ required: true }) until!: Date;
}

export const RefreshLeaseSchema = SchemaFactory.createForClass(RefreshLease);
