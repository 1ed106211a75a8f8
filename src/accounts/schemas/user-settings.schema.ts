import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument } from 'mongoose';

export const USER_SETTINGS_PLATFORM = 'instagram';

/** One connected account as the user configured it; no `_id`, as the Python service wrote them. */
@Schema({ _id: false, versionKey: false })
export class AccountConfig {
  @Prop() config_name?: string;
  @Prop({ required: true }) account_id!: string;
  @Prop({ default: true }) is_active!: boolean;
  @Prop({ default: false }) is_deleted!: boolean;
}
export const AccountConfigSchema = SchemaFactory.createForClass(AccountConfig);

@Schema({
  collection: 'user_settings',
  versionKey: false,
  timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' },
})
export class UserSettings {
  @Prop({ required: true }) user_id!: string;
  @Prop({ required: true, default: USER_SETTINGS_PLATFORM }) platform!: string;
  @Prop({ default: true }) is_active!: boolean;
  @Prop({ default: false }) is_deleted!: boolean;
  @Prop({ type: [AccountConfigSchema], default: [] }) configs!: AccountConfig[];
  created_at?: Date;
  updated_at?: Date;
}

export type UserSettingsDocument = HydratedDocument<UserSettings>;
export const UserSettingsSchema = SchemaFactory.createForClass(UserSettings);
// One settings document per user and platform; also serves every lookup by user.
UserSettingsSchema.index({ user_id: 1, platform: 1 }, { unique: true });
