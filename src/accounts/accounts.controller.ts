import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Redirect,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import {
  ApiAuthErrors,
  ApiBodyErrors,
  ApiErrorReply,
  ApiInstagramErrors,
  ApiRateLimited,
} from '../auth/api-errors';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { Public } from '../auth/public.decorator';
import { AccountConnectService } from './account-connect.service';
import { AccountHealthRegistry } from './account-health.registry';
import { AccountsService } from './accounts.service';
import { AccountDetailReplyDto, HealthSummaryReplyDto } from './dto/account-health.dto';
import { AccountIdParam, DeleteAccountQueryDto } from './dto/account-params.dto';
import { ConnectFinishBodyDto, ConnectFinishReplyDto } from './dto/connect-finish.dto';
import {
  AccountListReplyDto,
  AccountReplyDto,
  ConnectUrlReplyDto,
  DeletedAccountReplyDto,
} from './dto/account-response.dto';

const ApiBadAccountId = () =>
  ApiErrorReply(
    400,
    'VALIDATION_FAILED',
    'Validation failed: id must be a mongodb id',
    'id is not an ObjectId',
  );
const ApiAccountNotFound = () =>
  ApiErrorReply(
    404,
    'ACCOUNT_NOT_FOUND',
    'Instagram account not found',
    'No such account among yours (another user’s answers the same)',
  );
const ApiReauthRequired = () =>
  ApiErrorReply(
    409,
    'ACCOUNT_REAUTH_REQUIRED',
    'The Instagram account must be reconnected: its access was revoked or expired',
    'The token is invalid at Meta or does not decrypt with ENCRYPTION_KEY: reconnect',
  );

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
    private readonly insights: AccountHealthRegistry,
  ) {}

  /** Instagram's authorize URL for connecting an account; valid 10 minutes, once. */
  @Get('instagram/connect')
  @ApiOperation({
    summary: "Instagram's authorize URL to connect an account (10 minutes, once)",
    description:
      'Send the browser to `data.url`. Instagram sends it back to the callback, which redirects to ' +
      'FRONTEND_URL with `instagram=authorized&connect_ticket=…`; the dashboard then calls ' +
      '`POST /accounts/instagram/connect/finish` with that ticket and the same user’s token. ' +
      'Only that user can finish: a URL sent to someone else connects nothing.',
  })
  @ApiOkResponse({ type: ConnectUrlReplyDto })
  @ApiAuthErrors()
  connectUrl(@CurrentUser() user: AuthUser): ConnectUrlReplyDto {
    return { success: true, data: this.connect.authorizeUrl(user) };
  }

  /**
   * Where Instagram sends the browser back. Public, and it connects nothing: whoever consented
   * may not be the user the state names, so the code waits for that user's finish. Always
   * redirects to FRONTEND_URL with `instagram=authorized&connect_ticket=…` or `instagram=error&code=…`.
   */
  @Public()
  @Get('instagram/callback')
  @Redirect(undefined, 302)
  @ApiQuery({ name: 'code', required: false, description: "Instagram's authorization code" })
  @ApiQuery({ name: 'state', required: false, description: 'The state of the authorize URL' })
  @ApiQuery({ name: 'error', required: false, description: 'Set when the user denied access' })
  @ApiOperation({
    summary: 'Where Instagram sends the browser back: a 302 to FRONTEND_URL with a connect ticket',
    description:
      'Checks the state (signed, 10 minutes, once) and keeps the code for the user who asked for ' +
      'the URL; calls nothing at Meta. Redirects to FRONTEND_URL with ' +
      '`instagram=authorized&connect_ticket=…` (finish with POST /accounts/instagram/connect/finish) ' +
      'or `instagram=error&code=…`: OAUTH_DENIED, OAUTH_STATE_INVALID, OAUTH_CODE_INVALID, INTERNAL_ERROR.',
  })
  @ApiFoundResponse({
    description:
      'Redirect to the frontend, e.g. `Location: https://app.example.com/?instagram=authorized&connect_ticket=q3Lr0m5y…` ' +
      'or `Location: https://app.example.com/?instagram=error&code=OAUTH_STATE_INVALID`',
    headers: {
      Location: {
        description: 'FRONTEND_URL with the outcome',
        schema: {
          type: 'string',
          example:
            'https://app.example.com/?instagram=authorized&connect_ticket=q3Lr0m5yJ7cY1u9bTQeXh2Vn8sKf4aWd6gPz0oB1iNc',
        },
      },
    },
  })
  @ApiRateLimited()
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

  /** Connects the account the ticket stands for, when the caller is who asked for the URL. */
  @Post('instagram/connect/finish')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Finish a connect: redeem the callback’s ticket as the user who started it',
    description:
      'The dashboard sends the `connect_ticket` its browser landed with (single use, 10 minutes). ' +
      'igdm exchanges Instagram’s code, stores the account (token encrypted), subscribes it to ' +
      'the webhook fields and enables it. A ticket of a connect another user started is refused ' +
      'and used up: nothing is stored, nothing is called at Meta. Every failure uses the ticket ' +
      'up: start a new connect.',
  })
  @ApiOkResponse({ type: ConnectFinishReplyDto })
  @ApiErrorReply(
    400,
    'OAUTH_CODE_INVALID',
    'Instagram refused the authorization code (expired or already used): start the connect again',
    'Instagram refused the code (OAUTH_CODE_INVALID); connect_ticket missing or not a string ' +
      '(VALIDATION_FAILED)',
  )
  @ApiErrorReply(
    404,
    'CONNECT_TICKET_NOT_FOUND',
    'The connect ticket is unknown, expired or already used: start the connect again',
    'No pending connect has this ticket: unknown, older than 10 minutes, or already used',
  )
  @ApiErrorReply(
    403,
    'CONNECT_USER_MISMATCH',
    'This Instagram connect was started by another igdm user: nothing was connected. Start the connect from your own dashboard',
    'The ticket belongs to a connect another user started (a connect URL sent to you); it is used up',
  )
  @ApiErrorReply(
    409,
    'ACCOUNT_OWNED_BY_ANOTHER_USER',
    'This Instagram account is connected by another user: they must disconnect it first',
    'Connected by another user (ACCOUNT_OWNED_BY_ANOTHER_USER) or another connect of it is ' +
      'running (CONNECT_IN_PROGRESS)',
  )
  @ApiErrorReply(
    502,
    'META_ERROR',
    'Instagram did not complete the connect: start the connect again',
    'A Meta call of the connect failed',
  )
  @ApiAuthErrors()
  @ApiBodyErrors()
  async finish(
    @CurrentUser() user: AuthUser,
    @Body() body: ConnectFinishBodyDto,
  ): Promise<ConnectFinishReplyDto> {
    return { success: true, data: await this.connect.finish(user, body.connect_ticket) };
  }

  @Get()
  @ApiOperation({ summary: 'Your connected Instagram accounts (never a token)' })
  @ApiOkResponse({ type: AccountListReplyDto })
  @ApiAuthErrors()
  async list(@CurrentUser() user: AuthUser): Promise<AccountListReplyDto> {
    return { success: true, data: await this.accounts.list(user) };
  }

  /** Health of each of your accounts (declared before `:id`, which would take the path). */
  @Get('health')
  @ApiOperation({ summary: 'Health of each of your accounts' })
  @ApiOkResponse({ type: HealthSummaryReplyDto })
  @ApiAuthErrors()
  async health(@CurrentUser() user: AuthUser): Promise<HealthSummaryReplyDto> {
    return { success: true, data: await this.insights.summary(user) };
  }

  /** The account with its DM counts and health (webhooks, Graph, token, subscription, sync). */
  @Get(':id')
  @ApiOperation({
    summary:
      'One of your accounts: status, expiry, scopes missing, subscription, DM counts, health',
  })
  @ApiOkResponse({ type: AccountDetailReplyDto })
  @ApiAuthErrors()
  @ApiBadAccountId()
  @ApiAccountNotFound()
  async get(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<AccountDetailReplyDto> {
    return { success: true, data: await this.insights.detail(user, id) };
  }

  /** Refreshes the long-lived token now (the hourly job does this before expiry anyway). */
  @Post(':id/refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'Refresh the long-lived token now (tokens at least 24 hours old)' })
  @ApiOkResponse({ type: AccountReplyDto })
  @ApiAuthErrors()
  @ApiBadAccountId()
  @ApiAccountNotFound()
  @ApiErrorReply(
    409,
    'TOKEN_TOO_RECENT',
    'Instagram refreshes tokens that are at least 24 hours old; this one is newer',
    'Token younger than 24 h, refresh already running (REFRESH_IN_PROGRESS) or ACCOUNT_REAUTH_REQUIRED',
  )
  @ApiInstagramErrors()
  async refresh(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<AccountReplyDto> {
    return { success: true, data: await this.accounts.refresh(user, id) };
  }

  /** Subscribes the account to the webhook fields again and records which ones Meta kept. */
  @Post(':id/resubscribe')
  @HttpCode(200)
  @ApiOperation({ summary: 'Subscribe to the webhook fields again; records the fields Meta kept' })
  @ApiOkResponse({ type: AccountReplyDto })
  @ApiAuthErrors()
  @ApiBadAccountId()
  @ApiAccountNotFound()
  @ApiReauthRequired()
  @ApiErrorReply(
    502,
    'SUBSCRIPTION_FAILED',
    'Instagram did not accept the webhook subscription; retry later',
    'Meta refused the subscription',
  )
  async resubscribe(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<AccountReplyDto> {
    return { success: true, data: await this.accounts.resubscribe(user, id) };
  }

  /** Disconnects: unsubscribes at Meta and soft-deletes; `purge=true` also deletes its DMs. */
  @Delete(':id')
  @ApiOperation({
    summary: 'Disconnect: unsubscribe at Meta, soft-delete; purge=true also deletes its DMs',
  })
  @ApiOkResponse({ type: DeletedAccountReplyDto })
  @ApiAuthErrors()
  @ApiBadAccountId()
  @ApiAccountNotFound()
  @ApiErrorReply(
    409,
    'ACCOUNT_BUSY',
    'A connect of this Instagram account is in progress; retry in a few seconds',
    'A reconnect of this account held it for longer than 10 s; see Retry-After',
  )
  async remove(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
    @Query() { purge }: DeleteAccountQueryDto,
  ): Promise<DeletedAccountReplyDto> {
    return { success: true, data: await this.accounts.remove(user, id, purge === true) };
  }
}
