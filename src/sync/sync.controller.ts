import { Controller, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiAuthErrors, ApiErrorReply } from '../auth/api-errors';
import { AccountIdParam } from '../accounts/dto/account-params.dto';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ImportReplyDto } from './dto/import-reply.dto';
import { HistoryImportService } from './history-import.service';

@ApiTags('Accounts')
@ApiBearerAuth()
@ApiAuthErrors()
@ApiErrorReply(
  400,
  'VALIDATION_FAILED',
  'Validation failed: id must be a mongodb id',
  'Malformed account id',
)
@ApiErrorReply(
  404,
  'ACCOUNT_NOT_FOUND',
  'Instagram account not found',
  'Not one of your accounts (another user’s answers alike)',
)
@Controller('accounts')
export class SyncController {
  constructor(private readonly imports: HistoryImportService) {}

  @Post(':id/import')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: "Import the account's recent conversations from Instagram (runs in the background)",
    description:
      'Reads every conversation Meta lists and stores the messages it details, like webhook DMs (source `import`, once per message id). Meta serves only the 20 newest messages of each conversation: older history cannot be imported. An import already running is not started twice; a failed one continues where it stopped. Follow it with GET.',
  })
  @ApiAcceptedResponse({ type: ImportReplyDto })
  @ApiErrorReply(
    409,
    'ACCOUNT_DISABLED',
    'This Instagram account is disabled in your settings; enable it to send',
    'The account is disabled in your settings (ACCOUNT_DISABLED) or must be reconnected (ACCOUNT_REAUTH_REQUIRED)',
  )
  async start(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<ImportReplyDto> {
    return { success: true, data: await this.imports.request(user, id) };
  }

  @Get(':id/import')
  @ApiOperation({
    summary: 'Progress of the history import: state, conversations done, messages stored',
  })
  @ApiOkResponse({ type: ImportReplyDto })
  async status(
    @CurrentUser() user: AuthUser,
    @Param() { id }: AccountIdParam,
  ): Promise<ImportReplyDto> {
    return { success: true, data: await this.imports.status(user, id) };
  }
}
