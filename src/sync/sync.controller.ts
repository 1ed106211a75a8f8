import { Controller, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiAuthErrors, errorExample } from '../auth/api-errors';
import { AccountIdParam } from '../accounts/dto/account-params.dto';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ImportReplyDto } from './dto/import-reply.dto';
import { HistoryImportService } from './history-import.service';

@ApiTags('Accounts')
@ApiBearerAuth()
@ApiAuthErrors()
@ApiBadRequestResponse({
  description: 'Malformed account id',
  example: errorExample('VALIDATION_FAILED', 'Validation failed: id must be a mongodb id'),
})
@ApiNotFoundResponse({
  description: 'Not one of your accounts (another user’s answers alike)',
  example: errorExample('ACCOUNT_NOT_FOUND', 'Instagram account not found'),
})
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
  @ApiConflictResponse({
    description: 'The account is disabled in your settings or must be reconnected',
    example: errorExample(
      'ACCOUNT_DISABLED',
      'This Instagram account is disabled in your settings; enable it to send',
    ),
  })
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
