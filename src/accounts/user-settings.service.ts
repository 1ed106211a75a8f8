import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import type { AuthUser } from '../auth/auth-user';
import { ACCOUNT_ENABLED, type AccountEnabledEvent } from './accounts.types';
import {
  AccountConfig,
  USER_SETTINGS_PLATFORM,
  UserSettings,
} from './schemas/user-settings.schema';

export interface ConfigChange {
  config_name?: string;
  is_active?: boolean;
}

type SettingsDoc = UserSettings & { _id: unknown };
const MAX_WRITE_ATTEMPTS = 5;

/** A user's `user_settings` document (platform "instagram"): one config per connected account. */
@Injectable()
export class UserSettingsService {
  constructor(
    @InjectModel(UserSettings.name) private readonly settings: Model<UserSettings>,
    private readonly events: EventEmitter2,
  ) {}

  /** The caller's settings, created on first use in the reference shape. */
  async getOrCreate(userId: string): Promise<SettingsDoc> {
    const now = new Date();
    // A raw upsert keeps the reference shape exactly; the unique index stops a racing duplicate.
    await this.settings.collection
      .updateOne(
        { user_id: userId, platform: USER_SETTINGS_PLATFORM },
        {
          $setOnInsert: {
            user_id: userId,
            platform: USER_SETTINGS_PLATFORM,
            is_active: true,
            is_deleted: false,
            configs: [],
            created_at: now,
            updated_at: now,
          },
        },
        { upsert: true },
      )
      .catch((error: { code?: unknown }) => {
        if (error.code !== 11000) throw error;
      });
    const doc = await this.find(userId);
    if (!doc) throw new Error('user_settings upsert did not persist');
    return doc;
  }

  /** The config of one account, or null (no settings, or no config for it: a legacy account). */
  async configFor(userId: string, accountId: string): Promise<AccountConfig | null> {
    return (await this.configsOf(userId)).get(accountId) ?? null;
  }

  /** Configs of the user keyed by account id (one read for a list of accounts). */
  async configsOf(userId: string): Promise<Map<string, AccountConfig>> {
    const doc = await this.settings
      .findOne({ user_id: userId, platform: USER_SETTINGS_PLATFORM }, { configs: 1 })
      .lean<{ configs?: AccountConfig[] }>()
      .exec();
    return new Map((doc?.configs ?? []).map((c) => [c.account_id, c]));
  }

  /** On connect: adds the account's config, or re-enables (and undeletes) the existing one. */
  async enable(userId: string, accountId: string, configName: string | undefined): Promise<void> {
    await this.mutate(userId, accountId, (existing) =>
      existing
        ? { ...existing, is_active: true, is_deleted: false }
        : {
            ...(configName ? { config_name: configName } : {}),
            account_id: accountId,
            is_active: true,
            is_deleted: false,
          },
    );
  }

  /**
   * PATCH of one config (ownership of the account is checked by the caller). An account without
   * a config (legacy) gets one; `is_active: true` also undeletes a deleted config.
   */
  async update(user: AuthUser, accountId: string, change: ConfigChange): Promise<AccountConfig> {
    const config = await this.mutate(user.id, accountId, (existing) => ({
      ...(existing ?? { account_id: accountId, is_active: true, is_deleted: false }),
      ...(change.config_name !== undefined ? { config_name: change.config_name } : {}),
      ...(change.is_active !== undefined ? { is_active: change.is_active } : {}),
      ...(change.is_active === true ? { is_deleted: false } : {}),
    }));
    if (change.is_active === true) {
      const event: AccountEnabledEvent = { accountId, userId: user.id };
      this.events.emit(ACCOUNT_ENABLED, event);
    }
    return config;
  }

  /** Soft-deletes the config (ingest and sending stop); a legacy account gets a deleted config. */
  markDeleted(userId: string, accountId: string): Promise<AccountConfig> {
    return this.mutate(userId, accountId, (existing) => ({
      ...(existing ?? { account_id: accountId, is_active: true }),
      is_deleted: true,
    }));
  }

  private find(userId: string): Promise<SettingsDoc | null> {
    return this.settings
      .findOne({ user_id: userId, platform: USER_SETTINGS_PLATFORM })
      .lean<SettingsDoc>()
      .exec();
  }

  /**
   * Read-modify-write of the whole `configs` array (FerretDB has neither arrayFilters nor the
   * positional `$`), guarded by `updated_at` so a concurrent change is retried, not overwritten.
   * Other configs and their fields are written back unchanged.
   */
  private async mutate(
    userId: string,
    accountId: string,
    change: (existing: AccountConfig | undefined) => AccountConfig,
  ): Promise<AccountConfig> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const doc = await this.getOrCreate(userId);
      const configs = [...(doc.configs ?? [])];
      const index = configs.findIndex((c) => c.account_id === accountId);
      const next = change(index >= 0 ? configs[index] : undefined);
      if (index >= 0) configs[index] = next;
      else configs.push(next);
      const now = new Date(Math.max(Date.now(), (doc.updated_at?.getTime() ?? 0) + 1));
      const written = await this.settings.collection.updateOne(
        { _id: doc._id as never, updated_at: doc.updated_at },
        { $set: { configs, updated_at: now } },
      );
      if (written.matchedCount === 1) return next;
    }
    throw new Error('user_settings changed concurrently too often; retry');
  }
}

/** Ingest and sending run only for an active, undeleted config; no config at all (legacy) counts as enabled. */
export function isConfigEnabled(config: AccountConfig | null | undefined): boolean {
  if (!config) return true;
  return config.is_active !== false && config.is_deleted !== true;
}
