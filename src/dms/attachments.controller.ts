import {
  Controller,
  Get,
  Header,
  HttpStatus,
  Param,
  PipeTransform,
  Redirect,
} from '@nestjs/common';
import { ApiBearerAuth, ApiFoundResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiAuthErrors, ApiErrorReply, ApiInstagramErrors } from '../auth/api-errors';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { AppError } from '../common/errors/app-error';
import { AttachmentsService } from './attachments.service';
import { ApiObjectIdParam, ObjectIdPipe } from './dto/cursor';

/** Position of an attachment in the DM's `attachments` array, from 0. */
const ATTACHMENT_INDEX = /^[0-9]{1,3}$/;

class AttachmentIndexPipe implements PipeTransform<unknown, number> {
  transform(value: unknown): number {
    // The global pipe has already turned the text into a number (NaN for "x").
    const text = typeof value === 'number' || typeof value === 'string' ? String(value) : '';
    if (!ATTACHMENT_INDEX.test(text)) {
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
      "Meta's media URLs expire. The stored URL is used while it is younger than MEDIA_URL_TTL_MS and a HEAD does not show it gone; otherwise the message is read again from Instagram, the new URL is stored and the redirect goes there. Only https URLs on Meta's media hosts (MEDIA_HOSTS) are probed or redirected to; a stored URL elsewhere is never requested and is replaced the same way.",
  })
  @ApiObjectIdParam('id', 'DM id (instagram_dms._id)')
  // The pipe reads 1 to 3 digits: 0 to 999.
  @ApiParam({
    name: 'n',
    description: 'Attachment position, from 0',
    schema: { type: 'integer', minimum: 0, maximum: 999 },
    example: 0,
  })
  @ApiFoundResponse({
    description: 'Location: the media URL',
    headers: { Location: { description: 'The media URL', schema: { type: 'string' } } },
  })
  @ApiErrorReply(
    400,
    'INVALID_ID',
    'Invalid DM ID',
    'Malformed DM id (INVALID_ID) or attachment position (VALIDATION_FAILED)',
  )
  @ApiErrorReply(
    404,
    'DM_NOT_FOUND',
    'DM not found',
    'No such DM of yours (DM_NOT_FOUND; another user’s DM answers alike), or no media attachment at position n (ATTACHMENT_NOT_FOUND)',
  )
  @ApiErrorReply(
    409,
    'ACCOUNT_REAUTH_REQUIRED',
    'The Instagram account must be reconnected',
    'The account must be reconnected before Instagram can be asked for a new URL',
  )
  @ApiErrorReply(
    410,
    'MEDIA_EXPIRED',
    'Instagram no longer serves this media: the message was unsent or is older than the 20 newest of its conversation',
    'Instagram no longer serves the media (message unsent or older than the 20 newest of its thread), or gives no URL on MEDIA_HOSTS for it',
  )
  @ApiInstagramErrors()
  async open(
    @CurrentUser() user: AuthUser,
    @Param('id', new ObjectIdPipe()) id: string,
    @Param('n', new AttachmentIndexPipe()) n: number,
  ): Promise<{ url: string; statusCode: number }> {
    return { url: await this.attachments.liveUrl(user, id, n), statusCode: 302 };
  }
}
