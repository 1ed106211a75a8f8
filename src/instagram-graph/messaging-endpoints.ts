import { Injectable } from '@nestjs/common';
import { idString, isObject } from './graph-json';
import { GraphTransport, pathSegment } from './graph-transport';
import {
  GraphAccount,
  OutgoingAttachment,
  SendOptions,
  SendResult,
  SenderAction,
} from './instagram-graph.types';
import { assertTextFits } from './text-limit';

/**
 * The Send API (`POST /{igId}/messages`): texts, attachments, hearts and private replies, plus
 * the sender actions (typing, seen, reactions) that share its endpoint but not its retry rules.
 */
@Injectable()
export class MessagingEndpoints {
  constructor(private readonly transport: GraphTransport) {}

  async sendText(
    acct: GraphAccount,
    recipientId: string,
    text: string,
    opts: SendOptions = {},
  ): Promise<SendResult> {
    assertTextFits(text);
    const message: Record<string, unknown> = { text };
    if (opts.replyToMid) message.reply_to = { mid: opts.replyToMid };
    return this.sendMessage(acct, { id: recipientId }, message, opts.tag);
  }

  sendAttachment(
    acct: GraphAccount,
    recipientId: string,
    attachment: OutgoingAttachment,
    opts: SendOptions = {},
  ): Promise<SendResult> {
    const message: Record<string, unknown> = {
      attachment: { type: attachment.type, payload: { url: attachment.url } },
    };
    if (opts.replyToMid) message.reply_to = { mid: opts.replyToMid };
    return this.sendMessage(acct, { id: recipientId }, message, opts.tag);
  }

  sendLikeHeart(acct: GraphAccount, recipientId: string): Promise<SendResult> {
    return this.sendMessage(acct, { id: recipientId }, { attachment: { type: 'like_heart' } });
  }

  /** The one private reply a comment allows (7 days); `recipient_id` is the commenter's IGSID. */
  async sendPrivateReply(acct: GraphAccount, commentId: string, text: string): Promise<SendResult> {
    assertTextFits(text);
    return this.sendMessage(acct, { comment_id: commentId }, { text });
  }

  /** Typing indicator or read receipt. Idempotent, so it is retried like a read. */
  async senderAction(acct: GraphAccount, recipientId: string, action: SenderAction): Promise<void> {
    await this.postAction(acct, { recipient: { id: recipientId }, sender_action: action });
  }

  /** Reacts to a message (any emoji; `love` shows a heart). Repeating it replaces the reaction. */
  async react(
    acct: GraphAccount,
    recipientId: string,
    mid: string,
    reaction: string = 'love',
  ): Promise<void> {
    await this.postAction(acct, {
      recipient: { id: recipientId },
      sender_action: 'react',
      payload: { message_id: mid, reaction },
    });
  }

  async unreact(acct: GraphAccount, recipientId: string, mid: string): Promise<void> {
    await this.postAction(acct, {
      recipient: { id: recipientId },
      sender_action: 'unreact',
      payload: { message_id: mid },
    });
  }

  private sendMessage(
    acct: GraphAccount,
    recipient: { id: string } | { comment_id: string },
    message: Record<string, unknown>,
    tag?: 'HUMAN_AGENT',
  ): Promise<SendResult> {
    const body: Record<string, unknown> = { recipient, message };
    if (tag) {
      body.messaging_type = 'MESSAGE_TAG';
      body.tag = tag;
    } else {
      body.messaging_type = 'RESPONSE';
    }
    const fallbackRecipient = 'id' in recipient ? recipient.id : null;
    return this.transport.call(
      {
        method: 'POST',
        path: `/${pathSegment(acct.igId)}/messages`,
        template: 'POST /{igId}/messages',
        json: body,
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'send',
      },
      (reply) => {
        if (!isObject(reply)) return null;
        const messageId = idString(reply.message_id);
        const recipientId = idString(reply.recipient_id) ?? fallbackRecipient;
        return messageId && recipientId
          ? { recipient_id: recipientId, message_id: messageId }
          : null;
      },
    );
  }

  private postAction(acct: GraphAccount, body: Record<string, unknown>): Promise<true> {
    return this.transport.call(
      {
        method: 'POST',
        path: `/${pathSegment(acct.igId)}/messages`,
        template: 'POST /{igId}/messages (sender_action)',
        json: body,
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'idempotent',
      },
      // The reply body is unconfirmed on Instagram Login (graph-api.md §2.2): any 2xx will do.
      () => true,
    );
  }
}
