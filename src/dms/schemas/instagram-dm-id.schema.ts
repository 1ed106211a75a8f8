import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema, Types } from 'mongoose';

/**
 * The idempotency ledger: `_id` is Meta's mid, unique by nature, so "store this message once"
 * is one insert that either wins or hits a duplicate key, even on a database that already holds
 * the Python service's duplicate `message_id`s (where a unique index cannot be built). `_id` is
 * also the only lookup FerretDB's SQLite backend serves without a scan.
 */
@Schema({ collection: 'instagram_dm_ids', versionKey: false })
export class InstagramDmId {
  @Prop({ type: String, required: true }) _id!: string;
  /** The DM document; absent while only events about this mid (edit, reaction, …) have arrived. */
  @Prop({ type: MongooseSchema.Types.ObjectId }) dm_id?: Types.ObjectId;
  @Prop() platform_account_id?: string;
  /** Events that arrived before their message, applied when it does. */
  @Prop({ type: [MongooseSchema.Types.Mixed], default: undefined }) pending?: Record<
    string,
    unknown
  >[];
  /**
   * The inbound message's unread +1 belongs to whoever inserted this entry (set only by that
   * insert). Entries without it (created by events, or by a read message) leave the +1 to the
   * `#unread` marker.
   */
  @Prop() unread_counted?: boolean;
  @Prop({ default: () => new Date() }) created_at!: Date;
}

export type InstagramDmIdDocument = HydratedDocument<InstagramDmId>;
export const InstagramDmIdSchema = SchemaFactory.createForClass(InstagramDmId);
