import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema } from 'mongoose';

/** Comments from the `comments` / `live_comments` webhook fields; `_id` is Meta's comment id. */
@Schema({
  collection: 'instagram_comments',
  versionKey: false,
  timestamps: { createdAt: 'stored_at', updatedAt: 'updated_at' },
})
export class InstagramComment {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) user_id!: string;
  @Prop({ required: true }) platform_account_id!: string;
  @Prop() ig_id?: string;
  @Prop() field?: string;
  @Prop({ type: MongooseSchema.Types.Mixed }) media?: {
    id?: string;
    media_product_type?: string;
    ad_id?: string;
    ad_title?: string;
  };
  @Prop({ type: MongooseSchema.Types.Mixed }) from?: {
    id?: string;
    username?: string;
    self_ig_scoped_id?: string;
  };
  @Prop() text?: string;
  @Prop() parent_id?: string;
  /** The business's own comment (filtered so igdm never answers itself). */
  @Prop() is_own?: boolean;
  /**
   * Hidden on Instagram. Nothing writes it yet (moderation is not built): read as false when
   * absent, and `GET /instagram-comments?hidden=` filters on it.
   */
  @Prop() hidden?: boolean;
  /** When Meta says the comment was made (entry.time, in seconds on this field). */
  @Prop() created_at?: Date;
  @Prop({ type: MongooseSchema.Types.Mixed }) raw?: Record<string, unknown>;
  /** Meta allows one private reply per comment, within 7 days. */
  @Prop({ type: MongooseSchema.Types.Mixed }) private_reply?: {
    message_id?: string;
    sent_at?: Date;
    dm_id?: string;
  };
}

export type InstagramCommentDocument = HydratedDocument<InstagramComment>;
export const InstagramCommentSchema = SchemaFactory.createForClass(InstagramComment);
InstagramCommentSchema.index({ user_id: 1, platform_account_id: 1, created_at: -1 });
// GET /instagram-comments: the caller's accounts, newest first, keyset on (created_at, _id).
InstagramCommentSchema.index({ platform_account_id: 1, created_at: -1, _id: -1 });
// GET /instagram-comments?media_id=: one post's comments, newest first.
InstagramCommentSchema.index({ platform_account_id: 1, 'media.id': 1, created_at: -1, _id: -1 });
// GET /instagram-comments/:comment_id: the replies of a comment in order; and the page's own
// public replies (`parent_id $in` the page, is_own).
InstagramCommentSchema.index({ parent_id: 1, created_at: 1, _id: 1 });
// GET /instagram-comments?answered=: the comments our own comments answer (distinct parent_id).
InstagramCommentSchema.index({ platform_account_id: 1, is_own: 1, parent_id: 1 });
// POST /instagram-dms/comments/:id/reply: private replies of the last hour per account (750/h).
InstagramCommentSchema.index({ platform_account_id: 1, 'private_reply.claimed_at': -1 });
