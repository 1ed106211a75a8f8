import { Injectable } from '@nestjs/common';
import { ConversationEndpoints } from './conversation-endpoints';
import { GraphTransport } from './graph-transport';
import {
  AuthorizeUrlParams,
  Conversation,
  ConversationMessagesParams,
  GraphAccount,
  GraphMessage,
  InstagramMe,
  ListConversationsParams,
  LongLivedToken,
  OutgoingAttachment,
  Page,
  SendOptions,
  SendResult,
  SenderAction,
  ShortLivedToken,
  SubscribedApp,
  UsageSnapshot,
  UserProfile,
} from './instagram-graph.types';
import { MessagingEndpoints } from './messaging-endpoints';
import { OAuthEndpoints } from './oauth-endpoints';
import { ProfileEndpoints } from './profile-endpoints';
import { SubscriptionEndpoints } from './subscription-endpoints';

/**
 * The one provider the module exports: every call igdm makes to Meta, so other modules (and
 * their test doubles) depend on a single class. It only forwards; the behaviour and its
 * documentation live in the endpoint families and, for retries, throttling and errors, in
 * {@link GraphTransport}.
 */
@Injectable()
export class InstagramGraphService {
  constructor(
    private readonly transport: GraphTransport,
    private readonly profiles: ProfileEndpoints,
    private readonly messaging: MessagingEndpoints,
    private readonly subscriptions: SubscriptionEndpoints,
    private readonly oauth: OAuthEndpoints,
    private readonly conversations: ConversationEndpoints,
  ) {}

  // ---------------------------------------------------------------- profiles (ProfileEndpoints)

  getUserProfile(acct: GraphAccount, igsid: string): Promise<UserProfile | null> {
    return this.profiles.getUserProfile(acct, igsid);
  }

  // ---------------------------------------------------------------- Send API (MessagingEndpoints)

  sendText(
    acct: GraphAccount,
    recipientId: string,
    text: string,
    opts?: SendOptions,
  ): Promise<SendResult> {
    return this.messaging.sendText(acct, recipientId, text, opts);
  }

  sendAttachment(
    acct: GraphAccount,
    recipientId: string,
    attachment: OutgoingAttachment,
    opts?: SendOptions,
  ): Promise<SendResult> {
    return this.messaging.sendAttachment(acct, recipientId, attachment, opts);
  }

  sendLikeHeart(acct: GraphAccount, recipientId: string): Promise<SendResult> {
    return this.messaging.sendLikeHeart(acct, recipientId);
  }

  sendPrivateReply(acct: GraphAccount, commentId: string, text: string): Promise<SendResult> {
    return this.messaging.sendPrivateReply(acct, commentId, text);
  }

  senderAction(acct: GraphAccount, recipientId: string, action: SenderAction): Promise<void> {
    return this.messaging.senderAction(acct, recipientId, action);
  }

  react(acct: GraphAccount, recipientId: string, mid: string, reaction?: string): Promise<void> {
    return this.messaging.react(acct, recipientId, mid, reaction);
  }

  unreact(acct: GraphAccount, recipientId: string, mid: string): Promise<void> {
    return this.messaging.unreact(acct, recipientId, mid);
  }

  // ---------------------------------------------------------------- webhook subscription

  getSubscribedApps(acct: GraphAccount): Promise<SubscribedApp[]> {
    return this.subscriptions.getSubscribedApps(acct);
  }

  subscribeApp(acct: GraphAccount, fields: readonly string[]): Promise<boolean> {
    return this.subscriptions.subscribeApp(acct, fields);
  }

  unsubscribeApp(acct: GraphAccount): Promise<boolean> {
    return this.subscriptions.unsubscribeApp(acct);
  }

  // ---------------------------------------------------------------- OAuth (OAuthEndpoints)

  authorizeUrl(params: AuthorizeUrlParams): string {
    return this.oauth.authorizeUrl(params);
  }

  exchangeCode(code: string, redirectUri: string): Promise<ShortLivedToken> {
    return this.oauth.exchangeCode(code, redirectUri);
  }

  exchangeLongLived(shortToken: string): Promise<LongLivedToken> {
    return this.oauth.exchangeLongLived(shortToken);
  }

  refreshToken(longToken: string): Promise<LongLivedToken> {
    return this.oauth.refreshToken(longToken);
  }

  getMe(accessToken: string): Promise<InstagramMe> {
    return this.oauth.getMe(accessToken);
  }

  // ---------------------------------------------------------------- Conversations API

  listConversations(
    acct: GraphAccount,
    params?: ListConversationsParams,
  ): Promise<Page<Conversation>> {
    return this.conversations.listConversations(acct, params);
  }

  getConversationMessages(
    acct: GraphAccount,
    conversationId: string,
    params?: ConversationMessagesParams,
  ): Promise<Page<GraphMessage>> {
    return this.conversations.getConversationMessages(acct, conversationId, params);
  }

  getMessage(acct: GraphAccount, mid: string): Promise<GraphMessage> {
    return this.conversations.getMessage(acct, mid);
  }

  // ---------------------------------------------------------------- health (GraphTransport)

  usageFor(igId: string): UsageSnapshot | null {
    return this.transport.usageFor(igId);
  }

  lastSuccessAt(igId: string): Date | null {
    return this.transport.lastSuccessAt(igId);
  }
}
