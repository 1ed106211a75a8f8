import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/errors/app-error';
import { AccountsService } from './accounts.service';
import { AccountConfigDto, UserSettingsDto } from './dto/user-settings.dto';
import { AccountConfig } from './schemas/user-settings.schema';
import { ConfigChange, UserSettingsService } from './user-settings.service';

/**
 * The owner's settings routes: the per-account configs of `user_settings`, changed only for
 * accounts the caller owns (404 otherwise, as on the account routes).
 */
@Injectable()
export class AccountSettingsService {
  private readonly logger = new Logger(AccountSettingsService.name);

  constructor(
    private readonly accounts: AccountsService,
    private readonly settings: UserSettingsService,
  ) {}

  async getSettings(user: AuthUser): Promise<UserSettingsDto> {
    const doc = await this.settings.getOrCreate(user.id);
    return {
      id: String(doc._id),
      user_id: doc.user_id,
      platform: doc.platform,
      is_active: doc.is_active,
      is_deleted: doc.is_deleted,
      configs: (doc.configs ?? []).map(toConfigDto),
      created_at: doc.created_at ?? null,
      updated_at: doc.updated_at ?? null,
    };
  }

  async updateConfig(
    user: AuthUser,
    accountId: string,
    change: ConfigChange,
  ): Promise<AccountConfigDto> {
    if (change.config_name === undefined && change.is_active === undefined) {
      throw new AppError(
        HttpStatus.BAD_REQUEST,
        'VALIDATION_FAILED',
        'Validation failed: give config_name and/or is_active',
      );
    }
    await this.accounts.assertOwned(user, accountId);
    const config = await this.settings.update(user, accountId, change);
    this.logger.log({ accountId, isActive: config.is_active }, 'account config updated');
    return toConfigDto(config);
  }

  async deleteConfig(user: AuthUser, accountId: string): Promise<AccountConfigDto> {
    await this.accounts.assertOwned(user, accountId);
    return toConfigDto(await this.settings.markDeleted(user.id, accountId));
  }
}

function toConfigDto(config: AccountConfig): AccountConfigDto {
  return {
    ...(config.config_name !== undefined ? { config_name: config.config_name } : {}),
    account_id: config.account_id,
    is_active: config.is_active !== false,
    is_deleted: config.is_deleted === true,
  };
}
