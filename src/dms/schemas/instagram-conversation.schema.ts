import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema, Types } from 'mongoose';

@Schema({ _id: false, versionKey: false })
export class CustomerProfile {
  @Prop() name?: string;
  @Prop() username?: string;
  @Prop() profile_pic?: string;
  @Prop() is_verified_user?: boolean;
  @Prop() follower_count?: number;
  /** Profiles are fetched at most once a day per customer. */
  @Prop() fetched_at?: Date;
}

@Schema({ _id: false, versionKey: false })
export class LastMessage {
  @Prop() message_id?: string;
  /** First characters only: enough for a thread list. */
  @Prop() preview?: string;
  @Prop() direction?: string;
  @Prop() message_type?: string;
  @Prop() timestamp?: number;
}

/**
 * One thread per account and customer. `_id` is `<platform_account_id>:<customer_id>`, so every
 * event updates its thread by `_id` (the one lookup FerretDB serves without a scan). Counters
 * are kept on write because FerretDB cannot compute them by aggregation at read time.
 */
@Schema({
  collection: 'instagram_conversations',
  versionKey: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
})
export class InstagramConversation {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) user_id!: string;
  @Prop({ required: true }) platform_account_id!: string;
  @Prop() ig_id?: string;
  @Prop({ required: true }) customer_id!: string;
  @Prop({ type: CustomerProfile, default: undefined }) customer?: CustomerProfile;
  @Prop({ type: LastMessage, default: undefined }) last_message?: LastMessage;
  @Prop() last_message_at?: Date;
  /** Start of the 24-hour messaging window. */
  @Prop() last_inbound_at?: Date;
  @Prop({ default: 0 }) unread_count!: number;
  @Prop({ type: MongooseSchema.Types.Mixed }) meta_conversation_id?: string;
  /** Profile/names still to be fetched (Graph down, token needing re-authorisation): swept later. */
  @Prop() profile_pending?: boolean;
  @Prop() profile_attempts?: number;
  @Prop() profile_retry_at?: Date;
  /**
   * DMs stored before the customer's name was known, to be named once the profile arrives:
   * naming them by id avoids a query by customer, which FerretDB answers with a full scan.
   */
  @Prop({ type: [MongooseSchema.Types.ObjectId], default: undefined })
  unnamed_dm_ids?: Types.ObjectId[];
  /** More unnamed DMs than the list holds: the next naming falls back to a query. */
  @Prop() unnamed_overflow?: boolean;
  /**
   * Outbound DMs the customer has not seen yet, DM id (hex) → timestamp. A read receipt marks
   * the ones up to its watermark by id instead of querying the thread, which FerretDB answers
   * with a full scan. Keyed by id so that concurrent writers add and remove with `$set`/`$unset`.
   */
  @Prop({ type: MongooseSchema.Types.Mixed }) unseen_outbound?: Record<string, number>;
  /**
   * `unseen_outbound` lists every unseen outbound DM of the thread: threads created by igdm.
   * Older threads (and one that outgrew the list) are listed by query at their next read receipt.
   */
  @Prop() unseen_tracked?: boolean;
  /** Last referral (ig.me link or ad) that opened or reopened the thread. */
  @Prop({ type: MongooseSchema.Types.Mixed }) last_referral?: Record<string, unknown>;
  created_at?: Date;
  updated_at?: Date;
}

export type InstagramConversationDocument = HydratedDocument<InstagramConversation>;
export const InstagramConversationSchema = SchemaFactory.createForClass(InstagramConversation);
// GET /instagram-dms/conversations: newest activity first, keyset on _id.
InstagramConversationSchema.index({ user_id: 1, last_message_at: -1, _id: -1 });
InstagramConversationSchema.index({
  user_id: 1,
  platform_account_id: 1,
  last_message_at: -1,
  _id: -1,
});
// Dashboard API, scoped by the caller's accounts ($in): GET /instagram-dms/conversations.
InstagramConversationSchema.index({ platform_account_id: 1, last_message_at: -1, _id: -1 });
// GET /instagram-dms/stream resume.
InstagramConversationSchema.index({ platform_account_id: 1, updated_at: 1, _id: 1 });
// The enrichment sweep: threads whose customer profile is due.
InstagramConversationSchema.index({ profile_pending: 1, profile_retry_at: 1 });
