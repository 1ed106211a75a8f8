import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types } from 'mongoose';

/**
 * When an account was last heard from: written on the hot path (webhooks; Graph successes of
 * imports and reconciliation), throttled to once a minute, so it lives beside the account, not in it. FerretDB rewrites a
 * whole document per update without locking; a throttled timestamp written into `accounts` could
 * put back a token the refresh job had just replaced.
 */
@Schema({ collection: 'account_activity', versionKey: false })
export class AccountActivity {
  /** The account's `_id`. */
  @Prop({ type: Types.ObjectId, required: true }) _id!: Types.ObjectId;
  @Prop() last_webhook_at?: Date;
  @Prop() last_graph_success_at?: Date;
}

export type ActivityField = 'last_webhook_at' | 'last_graph_success_at';

export const AccountActivitySchema = SchemaFactory.createForClass(AccountActivity);
