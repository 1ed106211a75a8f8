import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { AccountsService } from '../accounts/accounts.service';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/errors/app-error';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import type { SendResult } from '../instagram-graph/instagram-graph.types';
import { assertTextFits } from '../instagram-graph/text-limit';
import { type DmJson, HUMAN_AGENT_WINDOW_MS, serializeDm, STANDARD_WINDOW_MS } from './dms.service';
import type { SendDmDto } from './dto/send-dm.dto';
import { DmsIngestService, type NewDm } from './ingest/ingest.service';
import { InstagramConversation } from './schemas/instagram-conversation.schema';
import { InstagramDm } from './schemas/instagram-dm.schema';

type LeanDm = InstagramDm & Record<string, unknown>;

/**
 * POST /instagram-dms/send: the messaging-window check, the calls to Meta and the stored copy of
 * what was sent. Stored through ingest, so a webhook echo of the same mid is not stored twice.
 */
@Injectable()
export class DmSendService {
  private readonly logger = new Logger(DmSendService.name);

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    @InjectModel(InstagramConversation.name)
    private readonly conversations: Model<InstagramConversation>,
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
    private readonly ingest: DmsIngestService,
  ) {}

  /** 422 WINDOW_CLOSED unless the customer wrote within 24 h (7 days with HUMAN_AGENT). */
  async assertWindowOpen(
    accountId: string,
    customerId: string,
    tag?: 'HUMAN_AGENT',
  ): Promise<void> {
    const conv = await this.conversations
      .findById(`${accountId}:${customerId}`, { last_inbound_at: 1 })
      .lean<Pick<InstagramConversation, 'last_inbound_at'>>()
      .exec();
    // A thread the Python service stored has no conversation document: its DMs tell.
    const last = conv?.last_inbound_at ?? (await this.lastInboundDmAt(accountId, customerId));
    if (!last) {
      throw new AppError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'WINDOW_CLOSED',
        'This customer has not written to this account: Instagram only allows a reply after the customer sends a message',
      );
    }
    const length = tag === 'HUMAN_AGENT' ? HUMAN_AGENT_WINDOW_MS : STANDARD_WINDOW_MS;
    const closesAt = new Date(last.getTime() + length);
    if (Date.now() < closesAt.getTime()) return;
    const humanAgentUntil = new Date(last.getTime() + HUMAN_AGENT_WINDOW_MS);
    const message =
      tag === 'HUMAN_AGENT'
        ? `The human agent window closed at ${closesAt.toISOString()} (7 days after the customer's last message); the customer must write again`
        : `The 24-hour messaging window closed at ${closesAt.toISOString()}. ` +
          (Date.now() < humanAgentUntil.getTime()
            ? `A human agent may still reply with tag HUMAN_AGENT until ${humanAgentUntil.toISOString()} (7 days).`
            : 'The tag HUMAN_AGENT allows 7 days, which have passed too; the customer must write again.');
    throw new AppError(HttpStatus.UNPROCESSABLE_ENTITY, 'WINDOW_CLOSED', message, {
      details: {
        last_inbound_at: last.toISOString(),
        closed_at: closesAt.toISOString(),
        human_agent_until: humanAgentUntil.toISOString(),
      },
    });
  }

  /** The newest inbound DM of the customer (any igdm version or the Python service wrote it). */
  private async lastInboundDmAt(accountId: string, customerId: string): Promise<Date | undefined> {
    const dm = await this.dms
      .findOne(
        { platform_account_id: accountId, sender_id: customerId, direction: 'inbound' },
        { created_at: 1 },
      )
      .sort({ created_at: -1, _id: -1 })
      .lean<{ created_at?: Date }>()
      .exec();
    return dm?.created_at ? new Date(dm.created_at) : undefined;
  }

  async send(user: AuthUser, dto: SendDmDto) {
    const text = dto.message_text;
    // Before anything is sent: a text refused after its attachment went out is a partial send.
    if (text !== undefined) assertTextFits(text, 'message_text');
    const account = await this.accounts.getSendableAccount(user, dto.platform_account_id);
    await this.assertWindowOpen(account.accountId, dto.recipient_id, dto.tag);

    const opts = { replyToMid: dto.reply_to, tag: dto.tag };
    const parts: { result: SendResult; stored: DmJson }[] = [];
    if (dto.attachment) {
      const result = await this.graph.sendAttachment(
        account.graph,
        dto.recipient_id,
        dto.attachment,
        opts,
      );
      parts.push({
        result,
        stored: await this.storeSent(user, account, dto, result, { attachment: dto.attachment }),
      });
    }
    if (text !== undefined) {
      let result: SendResult;
      try {
        result = await this.graph.sendText(
          account.graph,
          dto.recipient_id,
          text,
          dto.attachment ? { tag: dto.tag } : opts,
        );
      } catch (error) {
        if (parts.length === 0) throw error;
        throw partialSend(parts[0], error);
      }
      parts.push({ result, stored: await this.storeSent(user, account, dto, result, { text }) });
    }
    const last = parts[parts.length - 1];
    return {
      success: true as const,
      result: last.result,
      stored: last.stored,
      ...(parts.length > 1 ? { messages: parts } : {}),
    };
  }

  private async storeSent(
    user: AuthUser,
    account: { accountId: string; igId: string; username?: string },
    dto: SendDmDto,
    result: SendResult,
    content: { text?: string; attachment?: { type: string; url: string } },
  ): Promise<DmJson> {
    const draft: NewDm = {
      platform_account_id: account.accountId,
      ig_id: account.igId,
      user_id: user.id,
      sender_id: account.igId,
      sender_name: account.username,
      recipient_id: dto.recipient_id,
      customer_id: dto.recipient_id,
      message_id: result.message_id,
      text: content.text ?? null,
      timestamp: Date.now(),
      is_echo: false,
      direction: 'outbound',
      read: true,
      manual_dm: true,
      message_type: content.attachment ? ('attachment' as const) : ('text' as const),
      ...(content.attachment
        ? { attachments: [{ type: content.attachment.type, url: content.attachment.url }] }
        : {}),
      ...(dto.reply_to ? { reply_to: { mid: dto.reply_to } } : {}),
      raw: { ...result },
      source: 'send',
      send_status: 'sent',
    };
    const { dm } = await this.ingest.storeMessage(draft);
    this.logger.log({ accountId: account.accountId, messageId: result.message_id }, 'dm sent');
    return serializeDm(dm as unknown as LeanDm);
  }
}

/**
 * The attachment went out, the text did not. Not the text's own error (a 503 says "retry", and
 * retrying the request would send the attachment again): 502 PARTIAL_SEND, naming what was sent.
 */
function partialSend(sent: { result: SendResult; stored: DmJson }, error: unknown): AppError {
  const reason = error instanceof AppError ? error.code : 'META_ERROR';
  return new AppError(
    HttpStatus.BAD_GATEWAY,
    'PARTIAL_SEND',
    `The attachment was sent (message_id ${sent.result.message_id}) but the text was not (${reason}): send the text alone, since repeating this request would send the attachment again`,
    {
      details: {
        sent: [{ part: 'attachment', ...sent.result, stored: sent.stored }],
        not_sent: [{ part: 'message_text', code: reason }],
      },
      cause: error,
    },
  );
}
