import {
  Controller,
  Get,
  Header,
  HttpStatus,
  Param,
  PipeTransform,
  Redirect,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiFoundResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ApiAuthErrors, errorExample } from '../auth/api-errors';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { AppError } from '../common/errors/app-error';
import { AttachmentsService } from './attachments.service';
import { ObjectIdPipe } from './dto/cursor';

/** Position of an attachment in the DM's `attachments` array, from 0. */
class AttachmentIndexPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    // The global pipe has already turned the text into a number (NaN for "x").
    const text = typeof value === 'number' || typeof value === 'string' ? String(value) : '';
    if (!/^\d{1,3}$/.test(text)) {
      throw new AppError(
        HttpStatus.BAD_REQUEST,
        'VALIDATION_FAILED',
        'Validation failed: n must be an attachment position (0, 1, …)',
      );
    }
    return Number(text);
  }
}

@ApiTags('DMs')
@ApiBearerAuth()
@ApiAuthErrors()
@Controller('instagram-dms')
export class AttachmentsController {
  constructor(private readonly attachments: AttachmentsService) {}

  @Get(':id/attachments/:n')
  @Redirect(undefined, 302)
  // The target is a signed URL that expires: a cached redirect would outlive it.
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Open a DM attachment: redirects to a URL that works now',
    description:
      "Meta's media URLs expire. The stored URL is used while it is younger than MEDIA_URL_TTL_MS and a HEAD does not show it gone; otherwise the message is read again from Instagram, the new URL is stored and the redirect goes there.",
  })
  @ApiParam({ name: 'id', description: 'DM id (instagram_dms._id)' })
  @ApiParam({ name: 'n', description: 'Attachment position, from 0', example: 0 })
  @ApiFoundResponse({ description: 'Location: the media URL' })
  @ApiBadRequestResponse({
    description: 'Malformed DM id (INVALID_ID) or attachment position (VALIDATION_FAILED)',
    example: errorExample('INVALID_ID', 'Invalid DM ID'),
  })
  @ApiNotFoundResponse({
    description:
      'No such DM of yours (DM_NOT_FOUND; another user’s DM answers alike), or no media attachment at position n (ATTACHMENT_NOT_FOUND)',
    example: errorExample('DM_NOT_FOUND', 'DM not found'),
  })
  @ApiConflictResponse({
    description: 'The account must be reconnected before Instagram can be asked for a new URL',
    example: errorExample('ACCOUNT_REAUTH_REQUIRED', 'The Instagram account must be reconnected'),
  })
  @ApiResponse({
    status: 410,
    description:
      'Instagram no longer serves the media (message unsent or older than the 20 newest of its thread)',
    example: errorExample(
      'MEDIA_EXPIRED',
      'Instagram no longer serves this media: the message was unsent or is older than the 20 newest of its conversation',
    ),
  })
  async open(
    @CurrentUser() user: AuthUser,
    @Param('id', new ObjectIdPipe()) id: string,
    @Param('n', new AttachmentIndexPipe()) n: number,
  ): Promise<{ url: string; statusCode: number }> {
    return { url: await this.attachments.liveUrl(user, id, n), statusCode: 302 };
  }
}
