import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema, Types } from 'mongoose';

export type Direction = 'inbound' | 'outbound';
export type MessageType =
  | 'text'
  | 'attachment'
  | 'story_mention'
  | 'story_reply'
  | 'share'
  | 'postback'
  | 'referral'
  | 'unsupported'
  | 'private_reply';
export type DmSource = 'webhook' | 'send' | 'import' | 'reconcile' | 'legacy';

@Schema({ _id: false, versionKey: false })
export class DmAttachment {
  /** Meta's type: image, video, audio, file, share, story_mention, ig_reel, ig_post, … */
  @Prop({ required: true }) type!: string;
  @Prop() url?: string;
  @Prop() title?: string;
  @Prop() media_id?: string;
  /** When `url` was obtained: Meta's CDN links expire, a fresh one is fetched on demand. */
  @Prop() url_fetched_at?: Date;
}
export const DmAttachmentSchema = SchemaFactory.createForClass(DmAttachment);

@Schema({ _id: false, versionKey: false })
export class DmReaction {
  @Prop({ required: true }) sender_id!: string;
  @Prop() reaction?: string;
  @Prop() emoji?: string;
  @Prop() at?: Date;
}
export const DmReactionSchema = SchemaFactory.createForClass(DmReaction);

/**
 * `instagram_dms`, shared with the Python service. Its fields (down to `is_deleted`) keep their
 * names and meaning; everything after is igdm's and optional, so legacy documents load as they are.
 * `timestamp` is Meta's event time in ms. Legacy data may hold several documents per
 * `message_id`; igdm writes one per mid, guarded by the `instagram_dm_ids` ledger.
 */
@Schema({
  collection: 'instagram_dms',
  versionKey: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
})
export class InstagramDm {
  _id!: Types.ObjectId;
  @Prop({ required: true }) platform_account_id!: string;
  @Prop() ig_id?: string;
  /** Null on documents the Python service stored from its send route. */
  @Prop({ type: String, default: null }) user_id!: string | null;
  @Prop() sender_id?: string;
  @Prop() sender_name?: string;
  @Prop() recipient_id?: string;
  @Prop() recipient_name?: string;
  @Prop() message_id?: string;
  @Prop({ type: String, default: null }) text?: string | null;
  @Prop() timestamp?: number;
  @Prop({ default: false }) is_echo!: boolean;
  @Prop({ required: true, enum: ['inbound', 'outbound'] }) direction!: Direction;
  @Prop({ default: false }) read!: boolean;
  @Prop({ default: false }) manual_dm!: boolean;
  /** Meta's original message object (the send reply for messages sent by the Python service). */
  @Prop({ type: MongooseSchema.Types.Mixed }) raw?: Record<string, unknown>;
  @Prop({ default: false }) is_deleted!: boolean;
  created_at?: Date;
  updated_at?: Date;

  // igdm's additions
  /** The customer's IGSID: sender of inbound, recipient of outbound. One conversation per value. */
  @Prop() customer_id?: string;
  @Prop() message_type?: MessageType;
  @Prop({ type: [DmAttachmentSchema], default: undefined }) attachments?: DmAttachment[];
  @Prop({ type: MongooseSchema.Types.Mixed }) reply_to?: {
    mid?: string;
    story?: { id?: string; url?: string };
  };
  @Prop({ type: MongooseSchema.Types.Mixed }) quick_reply?: { payload?: string };
  @Prop({ type: MongooseSchema.Types.Mixed }) referral?: Record<string, unknown>;
  @Prop({ type: MongooseSchema.Types.Mixed }) postback?: { title?: string; payload?: string };
  @Prop({ type: [DmReactionSchema], default: undefined }) reactions?: DmReaction[];
  /** When each sender last removed a reaction: an older react arriving later stays ignored. */
  @Prop({ type: MongooseSchema.Types.Mixed }) reactions_removed?: { sender_id: string; at: Date }[];
  /** Meta could not represent the content (message.is_unsupported). */
  @Prop() is_unsupported?: boolean;
  @Prop() is_unsent?: boolean;
  @Prop() unsent_at?: Date;
  @Prop() edited_at?: Date;
  @Prop() edit_count?: number;
  /** A text-less edit (num_edit > 0) whose new text is still to be fetched from Graph. */
  @Prop() edit_text_pending?: boolean;
  /** Outbound only: the customer has seen it (read receipt). */
  @Prop() seen?: boolean;
  @Prop() seen_at?: Date;
  /** Delivered through `standby` (another app held the thread). */
  @Prop() is_standby?: boolean;
  /** Private reply: the comment it answers. */
  @Prop() comment_id?: string;
  @Prop() source?: DmSource;
  /** Outbound sends whose outcome Meta left unknown until the echo arrives. */
  @Prop() send_status?: 'sent' | 'unknown' | 'failed';
}

export type InstagramDmDocument = HydratedDocument<InstagramDm>;
export const InstagramDmSchema = SchemaFactory.createForClass(InstagramDm);
// Edits, reactions, reads and legacy lookups find their target by mid.
InstagramDmSchema.index({ message_id: 1 });
// GET /instagram-dms/list: the caller's DMs of one account, newest first (keyset on _id).
InstagramDmSchema.index({ user_id: 1, platform_account_id: 1, created_at: -1, _id: -1 });
// GET /instagram-dms/list without an account filter, and the conversation view.
InstagramDmSchema.index({ user_id: 1, created_at: -1, _id: -1 });
InstagramDmSchema.index({
  user_id: 1,
  platform_account_id: 1,
  customer_id: 1,
  created_at: -1,
  _id: -1,
});
// Dashboard API (dms.service.ts), scoped by the caller's accounts ($in), equality before sort (ESR):
// GET /instagram-dms/list, newest first, keyset on (created_at, _id).
InstagramDmSchema.index({ platform_account_id: 1, created_at: -1, _id: -1 });
// GET /instagram-dms/list?customer_id= (one conversation); also POST conversations/:id/read.
InstagramDmSchema.index({ platform_account_id: 1, customer_id: 1, created_at: -1, _id: -1 });
// GET /instagram-dms/stream resume (Last-Event-ID = <updated_at ms>-<_id>) and the multi-instance poll.
InstagramDmSchema.index({ platform_account_id: 1, updated_at: 1, _id: 1 });
