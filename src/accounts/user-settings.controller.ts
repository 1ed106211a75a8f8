import { Body, Controller, Delete, Get, Param, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { AccountsService } from './accounts.service';
import { ConfigAccountIdParam } from './dto/account-params.dto';
import {
  AccountConfigReplyDto,
  UpdateConfigDto,
  UserSettingsReplyDto,
} from './dto/user-settings.dto';

@ApiTags('User settings')
@ApiBearerAuth()
@Controller('user-settings')
export class UserSettingsController {
  constructor(private readonly accounts: AccountsService) {}

  /** The caller's settings (created on first use) with one config per connected account. */
  @Get()
  @ApiOkResponse({ type: UserSettingsReplyDto })
  async get(@CurrentUser() user: AuthUser): Promise<UserSettingsReplyDto> {
    return { success: true, data: await this.accounts.getSettings(user) };
  }

  /** Renames or enables/disables an account; a disabled account is neither ingested nor sendable. */
  @Patch('configs/:account_id')
  @ApiOkResponse({ type: AccountConfigReplyDto })
  async update(
    @CurrentUser() user: AuthUser,
    @Param() { account_id }: ConfigAccountIdParam,
    @Body() dto: UpdateConfigDto,
  ): Promise<AccountConfigReplyDto> {
    return { success: true, data: await this.accounts.updateConfig(user, account_id, dto) };
  }

  /** Marks the account's config deleted: ingest and sending stop (the account stays connected). */
  @Delete('configs/:account_id')
  @ApiOkResponse({ type: AccountConfigReplyDto })
  async remove(
    @CurrentUser() user: AuthUser,
    @Param() { account_id }: ConfigAccountIdParam,
  ): Promise<AccountConfigReplyDto> {
    return { success: true, data: await this.accounts.deleteConfig(user, account_id) };
  }
}
