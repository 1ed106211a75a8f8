import { Controller, Delete, Get, HttpCode, Param, Post, Query, Redirect } from '@nestjs/common';
import { ApiBearerAuth, ApiFoundResponse, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { Public } from '../auth/public.decorator';
import { AccountConnectService } from './account-connect.service';
import { AccountsService } from './accounts.service';
import { AccountIdParam, DeleteAccountQueryDto } from './dto/account-params.dto';
import {
  AccountListReplyDto,
  AccountReplyDto,
  ConnectUrlReplyDto,
  DeletedAccountReplyDto,
} from './dto/account-response.dto';

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

@ApiTags('Accounts')
@ApiBearerAuth()
@Controller('accounts')
export class AccountsController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly connect: AccountConnectService,
  ) {}

  /** Instagram's authorize URL for connecting an account; valid 10 minutes, once. */
  @Get('instagram/connect')
  @ApiOkResponse({ type: ConnectUrlReplyDto })
  connectUrl(@CurrentUser() user: AuthUser): ConnectUrlReplyDto {
    return { success: true, data: this.connect.authorizeUrl(user) };
  }

  /**
   * Where Instagram sends the browser back. Public: the signed state proves the user. Always
   * redirects to FRONTEND_URL with `instagram=connected&account_id=…` or `instagram=error&code=…`.
   */
  @Public()
  @Get('instagram/callback')
  @Redirect(undefined, 302)
  @ApiQuery({ name: 'code', required: false })
  @ApiQuery({ name: 'state', required: false })
  @ApiQuery({ name: 'error', required: false })
  @ApiFoundResponse({ description: 'Redirect to the frontend with the outcome' })
  async callback(
    @Query() query: Record<string, unknown>,
  ): Promise<{ url: string; statusCode: number }> {
    // Meta adds parameters of its own (error_reason, …): read the known ones, ignore the rest.
    const url = await this.connect.callback({
      code: str(query.code),
      state: str(query.state),
      error: str(query.error),
    });
    return { url, statusCode: 302 };
  }

  @Get()
  @ApiOkResponse({ type: AccountListReplyDto })
  async list(@CurrentUser() user: AuthUser): Promise<AccountListReplyDto> {
    return { success: true, data: await this.accounts.list(user) };
  }

  @Get(':id')
  @ApiOkResponse({ type: AccountReplyDto })
  async get(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<AccountReplyDto> {
    return { success: true, data: await this.accounts.get(user, id) };
  }

  /** Refreshes the long-lived token now (the hourly job does this before expiry anyway). */
  @Post(':id/refresh')
  @HttpCode(200)
  @ApiOkResponse({ type: AccountReplyDto })
  async refresh(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<AccountReplyDto> {
    return { success: true, data: await this.accounts.refresh(user, id) };
  }

  /** Subscribes the account to the webhook fields again and records which ones Meta kept. */
  @Post(':id/resubscribe')
  @HttpCode(200)
  @ApiOkResponse({ type: AccountReplyDto })
  async resubscribe(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<AccountReplyDto> {
    return { success: true, data: await this.accounts.resubscribe(user, id) };
  }

  /** Disconnects: unsubscribes at Meta and soft-deletes; `purge=true` also deletes its DMs. */
  @Delete(':id')
  @ApiOkResponse({ type: DeletedAccountReplyDto })
  async remove(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
    @Query() { purge }: DeleteAccountQueryDto,
  ): Promise<DeletedAccountReplyDto> {
    return { success: true, data: await this.accounts.remove(user, id, purge === true) };
  }
}
