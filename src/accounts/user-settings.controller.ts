import { Body, Controller, Delete, Get, Param, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiAuthErrors, ApiBodyErrors, ApiErrorReply } from '../auth/api-errors';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { AccountSettingsService } from './account-settings.service';
import { ConfigAccountIdParam } from './dto/account-params.dto';
import {
  AccountConfigReplyDto,
  UpdateConfigDto,
  UserSettingsReplyDto,
} from './dto/user-settings.dto';

const ApiConfigNotFound = () =>
  ApiErrorReply(
    404,
    'ACCOUNT_NOT_FOUND',
    'Instagram account not found',
    'No such account among yours (another user’s answers the same)',
  );
const ApiBadAccountId = () =>
  ApiErrorReply(
    400,
    'VALIDATION_FAILED',
    'Validation failed: account_id must be a mongodb id',
    'account_id is not an ObjectId',
  );

@ApiTags('User settings')
@ApiBearerAuth()
@ApiAuthErrors()
@Controller('user-settings')
export class UserSettingsController {
  constructor(private readonly accountSettings: AccountSettingsService) {}

  /** The caller's settings (created on first use) with one config per connected account. */
  @Get()
  @ApiOperation({ summary: 'Your settings, created on first use, with one config per account' })
  @ApiOkResponse({ type: UserSettingsReplyDto })
  async get(@CurrentUser() user: AuthUser): Promise<UserSettingsReplyDto> {
    return { success: true, data: await this.accountSettings.getSettings(user) };
  }

  /** Renames or enables/disables an account; a disabled account is neither ingested nor sendable. */
  @Patch('configs/:account_id')
  @ApiOperation({
    summary: 'Rename, enable or disable an account (disabled: neither ingested nor sendable)',
  })
  @ApiOkResponse({ type: AccountConfigReplyDto })
  @ApiErrorReply(
    400,
    'VALIDATION_FAILED',
    'Validation failed: give config_name and/or is_active',
    'Invalid account_id, empty body or a field of the wrong type',
  )
  @ApiConfigNotFound()
  @ApiBodyErrors()
  async update(
    @CurrentUser() user: AuthUser,
    @Param() { account_id }: ConfigAccountIdParam,
    @Body() dto: UpdateConfigDto,
  ): Promise<AccountConfigReplyDto> {
    return { success: true, data: await this.accountSettings.updateConfig(user, account_id, dto) };
  }

  /** Marks the account's config deleted: ingest and sending stop (the account stays connected). */
  @Delete('configs/:account_id')
  @ApiOperation({
    summary: "Delete an account's config: ingest and sending stop, the account stays connected",
  })
  @ApiOkResponse({ type: AccountConfigReplyDto })
  @ApiBadAccountId()
  @ApiConfigNotFound()
  async remove(
    @CurrentUser() user: AuthUser,
    @Param() { account_id }: ConfigAccountIdParam,
  ): Promise<AccountConfigReplyDto> {
    return { success: true, data: await this.accountSettings.deleteConfig(user, account_id) };
  }
}
