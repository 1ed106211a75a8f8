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
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { Public } from '../auth/public.decorator';
import type { AppConfig } from '../config/app-config';
import { DeliveryWorker } from './delivery-worker.service';
import { ListDeliveriesQueryDto } from './dto/list-deliveries.query';
import { entryIds, isWebhookBody } from './event-parser';
import { WebhookSignatureGuard } from './webhook-signature.guard';
import { WebhookService } from './webhook.service';

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
  @SkipThrottle()
  @Get('instagram')
  @ApiOperation({ summary: "Meta's subscription handshake: echoes hub.challenge as text/plain" })
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
  @ApiOperation({
    summary:
      "Diagnostics: counts and ids of deliveries for the caller's accounts, by status (never payloads)",
  })
  list(@CurrentUser() user: AuthUser, @Query() query: ListDeliveriesQueryDto) {
    return this.webhooks.listByStatus(user, query.status, query.limit);
  }
}
