import {
  BadRequestException,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Post,
  Query,
  RawBodyRequest,
  Req,
  Res,
  UseGuards,
  Inject,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { SkipThrottle, Throttle } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { timingSafeEqual, createHash } from 'node:crypto';
import { ApiAuthErrors, ApiErrorReply, errorExample } from '../auth/api-errors';
import { ErrorEnvelopeDto } from '../common/errors/error-envelope.openapi';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { Public } from '../auth/public.decorator';
import type { AppConfig } from '../config/app-config';
import { MAX_BODY_BYTES } from '../configure-app';
import { DeliveryWorker } from './delivery-worker.service';
import { ListDeliveriesQueryDto } from './dto/list-deliveries.query';
import { entryIds, isWebhookBody } from './event-parser';
import { WebhookSignatureGuard } from './webhook-signature.guard';
import { WebhookService } from './webhook.service';

/** A 5xx reply hides its cause and names the request instead (src/common/errors). */
function serverErrorExample(code: string) {
  const example = errorExample(code, 'Something failed on our side');
  return {
    ...example,
    error: { ...example.error, request_id: '0b6f7a52-3f4e-4d1c-9a7e-2c5d8e1f4a90' },
  };
}

/**
 * Meta makes the handshake once per subscription change, so a small budget per client address
 * costs it nothing and turns guessing the verify token into a crawl.
 */
export const VERIFY_HANDSHAKE_LIMIT = 10;
const VERIFY_THROTTLE = { default: { limit: VERIFY_HANDSHAKE_LIMIT, ttl: 60_000 } };

function sameSecret(a: string, b: string): boolean {
  // Hash first so the comparison is constant-time whatever the lengths.
  return timingSafeEqual(
    createHash('sha256').update(a).digest(),
    createHash('sha256').update(b).digest(),
  );
}
function queryParam(req: Request, dotted: string): string | undefined {
  const q = req.query as Record<string, unknown>;
  const v =
    q[dotted] ??
    q[dotted.replace('.', '_')] ??
    (q.hub as Record<string, unknown> | undefined)?.[dotted.split('.')[1]];
  return typeof v === 'string' ? v : undefined;
}

@ApiTags('Webhook')
@Controller('webhook')
export class WebhookController {
  private readonly verifyToken: string;

  constructor(
    private readonly webhooks: WebhookService,
    private readonly worker: DeliveryWorker,
    @Inject(ConfigService) config: AppConfig,
  ) {
    this.verifyToken = config.get('META_WEBHOOK_VERIFY_TOKEN', { infer: true });
  }

  @Public()
  @Throttle(VERIFY_THROTTLE)
  @Get('instagram')
  @ApiOperation({ summary: "Meta's subscription handshake: echoes hub.challenge as text/plain" })
  @ApiQuery({ name: 'hub.mode', required: true, enum: ['subscribe'] })
  @ApiQuery({
    name: 'hub.verify_token',
    required: true,
    type: String,
    description: 'Must equal META_WEBHOOK_VERIFY_TOKEN',
  })
  @ApiQuery({ name: 'hub.challenge', required: true, type: String, description: 'Echoed back' })
  @ApiOkResponse({
    description: 'hub.challenge, as it was sent',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrorReply(
    403,
    'FORBIDDEN',
    'Verification failed',
    'hub.mode is not subscribe, hub.challenge is missing, or hub.verify_token is not META_WEBHOOK_VERIFY_TOKEN',
  )
  @ApiErrorReply(
    429,
    'RATE_LIMITED',
    'ThrottlerException: Too Many Requests',
    `More than ${VERIFY_HANDSHAKE_LIMIT} handshakes a minute from one client address; see Retry-After`,
    { retryAfter: true },
  )
  verify(@Req() req: Request, @Res() res: Response): void {
    const mode = queryParam(req, 'hub.mode');
    const token = queryParam(req, 'hub.verify_token');
    const challenge = queryParam(req, 'hub.challenge');
    if (
      mode !== 'subscribe' ||
      token === undefined ||
      challenge === undefined ||
      !sameSecret(token.trim(), this.verifyToken)
    ) {
      throw new ForbiddenException('Verification failed');
    }
    res.status(200).type('text/plain').send(challenge);
  }

  @Public()
  @SkipThrottle()
  @Post('instagram')
  @HttpCode(200)
  @UseGuards(WebhookSignatureGuard)
  @ApiOperation({
    summary: 'Webhook deliveries from Meta: stored, acknowledged, processed after the ack',
  })
  @ApiHeader({
    name: 'X-Hub-Signature-256',
    required: true,
    description: '`sha256=` + the HMAC-SHA256 of the raw body with the app secret',
    schema: { type: 'string', pattern: '^sha256=[0-9a-f]{64}$' },
  })
  // Inline, not a DTO: the body is read as Meta sends it (no validation pipe, extra fields kept).
  @ApiBody({
    required: true,
    schema: {
      type: 'object',
      required: ['object', 'entry'],
      properties: {
        object: { type: 'string', example: 'instagram' },
        entry: { type: 'array', items: { type: 'object' } },
      },
    },
  })
  @ApiOkResponse({
    description: 'Stored (or ignored: `object` is not instagram); processed after this reply',
    schema: {
      type: 'object',
      required: ['success'],
      properties: { success: { type: 'boolean', enum: [true] } },
    },
  })
  @ApiErrorReply(
    400,
    'BAD_REQUEST',
    'Expected an object with "object" and "entry[]"',
    'Not a webhook body; a body that is not JSON at all answers "Request body is not valid JSON"',
  )
  @ApiErrorReply(
    401,
    'UNAUTHORIZED',
    'Invalid or missing webhook signature',
    'X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of the raw body with the app secret',
  )
  @ApiErrorReply(
    413,
    'PAYLOAD_TOO_LARGE',
    'Request body is too large',
    `Body over ${MAX_BODY_BYTES} bytes`,
  )
  @ApiErrorReply(
    415,
    'BAD_REQUEST',
    'Request body is not valid JSON',
    'The body is in a charset or content encoding the JSON parser does not read',
  )
  @ApiResponse({
    status: 503,
    type: ErrorEnvelopeDto,
    description:
      'Not stored: the database is unavailable or did not confirm the write within 5 s. Nothing is acknowledged, so Meta delivers it again',
    example: serverErrorExample('SERVICE_UNAVAILABLE'),
  })
  async receive(@Req() req: RawBodyRequest<Request>): Promise<{ success: true }> {
    const body: unknown = req.body;
    if (!isWebhookBody(body))
      throw new BadRequestException('Expected an object with "object" and "entry[]"');
    const ignored = body.object !== 'instagram';
    const id = await this.webhooks.persist(
      req.rawBody!,
      ignored ? 'ignored' : 'pending',
      entryIds(body),
    );
    if (!ignored) this.worker.wake([id]);
    return { success: true };
  }

  @Get('deliveries')
  @ApiBearerAuth()
  @ApiAuthErrors()
  @ApiOkResponse({
    description: 'How many deliveries of your accounts have the status, and the newest of them',
    schema: {
      type: 'object',
      required: ['success', 'status', 'total', 'data'],
      properties: {
        success: { type: 'boolean', enum: [true] },
        status: { type: 'string', enum: ['pending', 'processed', 'failed', 'ignored'] },
        total: { type: 'integer', minimum: 0 },
        data: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'received_at', 'attempts'],
            properties: {
              id: { type: 'string' },
              received_at: { type: 'string', format: 'date-time' },
              attempts: { type: 'integer' },
              processed_at: { type: 'string', format: 'date-time' },
            },
          },
        },
      },
    },
  })
  @ApiErrorReply(
    400,
    'VALIDATION_FAILED',
    'Validation failed: status must be one of the following values: pending, processed, failed, ignored',
    'Unknown status, or limit not an integer from 1 to 500',
  )
  @ApiOperation({
    summary:
      "Diagnostics: counts and ids of deliveries for the caller's accounts, by status (never payloads)",
  })
  list(@CurrentUser() user: AuthUser, @Query() query: ListDeliveriesQueryDto) {
    return this.webhooks.listByStatus(user, query.status, query.limit);
  }
}
