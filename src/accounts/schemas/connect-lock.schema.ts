import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Who is connecting an Instagram account right now: `_id` is its ig_id, so inserting the row is
 * the claim (a unique-key insert is atomic on MongoDB and FerretDB alike, unlike a conditional
 * update). Connects of one Instagram account run one at a time, so two users racing through the
 * OAuth callback cannot both pass the "owned by another user" check.
 */
@Schema({ collection: 'account_connect_locks', versionKey: false })
export class ConnectLock {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) owner!: string;
  /** After this the lock is stale (its instance died mid-connect) and may be taken over. */
  @Prop({ required: true }) until!: Date;
}

export const ConnectLockSchema = SchemaFactory.createForClass(ConnectLock);
