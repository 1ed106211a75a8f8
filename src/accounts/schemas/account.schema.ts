import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

export const INSTAGRAM_PLATFORM = 'meta_instagram';

export enum AccountStatus {
  Active = 'active',
  NeedsReauth = 'needs_reauth',
  Disconnected = 'disconnected',
}

@Schema({ _id: false, versionKey: false })
export class InstagramData {
  /** The professional account id webhooks carry in `entry.id` (`/me` → `user_id`). */
  @Prop() ig_id?: string;
  @Prop() id?: string;
  @Prop() username?: string;
  /** `/me` → `id`: app-scoped, never used for routing. */
  @Prop() app_scoped_id?: string;
  @Prop() account_type?: string;
}

@Schema({ _id: false, versionKey: false })
export class AccountMeta {
  @Prop() id?: string;
  @Prop() name?: string;
  @Prop() username?: string;
}

/**
 * `accounts`, shared with the Python service: its fields keep their names and meaning, igdm's
 * additions are optional so its documents load unchanged.
 */
@Schema({
  collection: 'accounts',
  versionKey: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
})
export class Account {
  @Prop({ required: true }) user_id!: string;
  @Prop({ required: true, default: INSTAGRAM_PLATFORM }) platform!: string;
  /** Encrypted: `v1:` AES-256-GCM, or a legacy Fernet token written by the Python service. */
  @Prop() access_token?: string;
  @Prop() refresh_token?: string;
  /** Seconds, as Meta's token reply gives it. */
  @Prop() expires_in?: number;
  @Prop({ type: InstagramData, default: undefined }) instagram_data?: InstagramData;
  @Prop({ type: AccountMeta, default: undefined }) meta?: AccountMeta;

  created_at?: Date;
  updated_at?: Date;

  // igdm's additions
  /** Absent on legacy documents, which count as active. */
  @Prop({ enum: Object.values(AccountStatus) }) status?: AccountStatus;
  @Prop() status_reason?: string;
  @Prop() token_expires_at?: Date;
  @Prop() token_refreshed_at?: Date;
  @Prop({ type: [String], default: undefined }) scopes?: string[];
  /** Webhook fields Meta reports as subscribed (read back after subscribing). */
  @Prop({ type: [String], default: undefined }) subscribed_fields?: string[];
  @Prop() subscription_checked_at?: Date;
  /** Error code of the last subscription attempt that failed; absent when it succeeded. */
  @Prop() subscription_error?: string;
  /** Read only: igdm now writes these to account_activity (see AccountActivity for why). */
  @Prop() last_webhook_at?: Date;
  @Prop() last_graph_success_at?: Date;
  /** Lease of the token-refresh job, so one instance refreshes each account. */
  @Prop() refresh_lease_until?: Date;
  @Prop() refresh_lease_owner?: string;
  @Prop() is_deleted?: boolean;
  @Prop() deleted_at?: Date;
  /**
   * Set by DELETE /accounts/:id?purge=true until the dms module has deleted the account's DMs;
   * a purge cut short by a restart is resumed from it at start-up.
   */
  @Prop() purge_requested_at?: Date;
  @Prop() purged_at?: Date;
}

export type AccountDocument = HydratedDocument<Account>;
export const AccountSchema = SchemaFactory.createForClass(Account);
// Webhook routing: entry.id is matched against both, as the Python service does, newest first
// (resolveForWebhook); the connect flow's ownership and revive lookups use them too.
AccountSchema.index({ 'instagram_data.ig_id': 1, updated_at: -1 });
AccountSchema.index({ 'instagram_data.id': 1, updated_at: -1 });
// GET /accounts and every ownership check start from the caller.
AccountSchema.index({ user_id: 1, created_at: -1 });
// The refresh job's scan for tokens that expire soon.
AccountSchema.index({ token_expires_at: 1 });
// Purges to resume at start-up (AccountsService.pendingPurges); the field exists on few documents.
AccountSchema.index({ purge_requested_at: 1 });
