import { Injectable } from '@nestjs/common';
import { idString, isObject, stringOrNull } from './graph-json';
import { GraphTransport, pathSegment } from './graph-transport';
import {
  Conversation,
  ConversationMessagesParams,
  GraphAccount,
  GraphMessage,
  ListConversationsParams,
  Page,
} from './instagram-graph.types';

const MESSAGE_FIELDS =
  'id,created_time,from,to,message,attachments,is_unsupported,story,shares,reply_to';
/** Meta serves message details for the 20 newest messages of a thread only (graph-api.md §5). */
const MAX_THREAD_MESSAGES = 20;

function nextCursorOf(body: Record<string, unknown>): string | null {
  const paging = body.paging;
  if (!isObject(paging)) return null;
  // Graph semantics: `next` is present only when there is a next page; the cursor says where.
  if (typeof paging.next !== 'string') return null;
  return isObject(paging.cursors) ? stringOrNull(paging.cursors.after) : null;
}

/**
 * The Conversations API: the threads of an account and their messages, which history import,
 * reconciliation and thread sync read; also one message by mid (edits, expired attachment URLs).
 */
@Injectable()
export class ConversationEndpoints {
  constructor(private readonly transport: GraphTransport) {}

  listConversations(
    acct: GraphAccount,
    params: ListConversationsParams = {},
  ): Promise<Page<Conversation>> {
    return this.transport.call(
      {
        method: 'GET',
        path: '/me/conversations',
        template: 'GET /me/conversations',
        query: {
          platform: 'instagram',
          user_id: params.userId,
          limit: params.limit,
          after: params.after,
        },
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'read',
      },
      (body) => {
        if (!isObject(body) || !Array.isArray(body.data)) return null;
        const data = body.data.filter(isObject).flatMap((c) => {
          const id = idString(c.id);
          return id ? [{ id, updated_time: stringOrNull(c.updated_time) ?? '' }] : [];
        });
        return { data, nextCursor: nextCursorOf(body) };
      },
    );
  }

  /**
   * Newest messages of a conversation with their details, one request per page. The first page
   * uses field expansion (`?fields=messages.limit(N){…}`) rather than `fields=messages` plus one
   * lookup per message: the Conversations API allows 2 calls/s per account. Later pages use the
   * `/{conversationId}/messages` edge with the cursor, which is what Meta's own `paging.next`
   * points to. Details exist for the 20 newest messages only.
   */
  getConversationMessages(
    acct: GraphAccount,
    conversationId: string,
    params: ConversationMessagesParams = {},
  ): Promise<Page<GraphMessage>> {
    const limit = Math.min(Math.max(1, params.limit ?? MAX_THREAD_MESSAGES), MAX_THREAD_MESSAGES);
    const readPage = (edge: unknown): Page<GraphMessage> | null => {
      if (!isObject(edge) || !Array.isArray(edge.data)) return null;
      return {
        data: edge.data.filter(isObject).flatMap((m) => {
          const message = readMessage(m);
          return message ? [message] : [];
        }),
        nextCursor: nextCursorOf(edge),
      };
    };
    const common = {
      method: 'GET' as const,
      token: acct.accessToken,
      igId: acct.igId,
      kind: 'read' as const,
    };
    if (params.after) {
      return this.transport.call(
        {
          ...common,
          path: `/${pathSegment(conversationId)}/messages`,
          template: 'GET /{conversationId}/messages',
          query: { fields: MESSAGE_FIELDS, limit, after: params.after },
        },
        readPage,
      );
    }
    return this.transport.call(
      {
        ...common,
        path: `/${pathSegment(conversationId)}`,
        template: 'GET /{conversationId}?fields=messages',
        query: { fields: `messages.limit(${limit}){${MESSAGE_FIELDS}}` },
      },
      (body) => {
        if (!isObject(body)) return null;
        // A conversation without messages may come back without the `messages` field at all.
        if (body.messages === undefined) return { data: [], nextCursor: null };
        return readPage(body.messages);
      },
    );
  }

  /**
   * One message with its details: fills in edits that arrived without text and refreshes expired
   * CDN URLs of attachments.
   */
  getMessage(acct: GraphAccount, mid: string): Promise<GraphMessage> {
    return this.transport.call(
      {
        method: 'GET',
        path: `/${pathSegment(mid)}`,
        template: 'GET /{mid}',
        query: { fields: MESSAGE_FIELDS },
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'read',
      },
      (body) => (isObject(body) ? readMessage(body) : null),
    );
  }
}

function readMessage(m: Record<string, unknown>): GraphMessage | null {
  const id = idString(m.id);
  if (!id) return null;
  const message: GraphMessage = { id, created_time: stringOrNull(m.created_time) ?? '' };
  if (isObject(m.from)) {
    const fromId = idString(m.from.id);
    if (fromId)
      message.from = {
        id: fromId,
        ...(typeof m.from.username === 'string' ? { username: m.from.username } : {}),
      };
  }
  if (isObject(m.to) && Array.isArray(m.to.data)) {
    message.to = {
      data: m.to.data.filter(isObject).flatMap((u) => {
        const uid = idString(u.id);
        return uid
          ? [{ id: uid, ...(typeof u.username === 'string' ? { username: u.username } : {}) }]
          : [];
      }),
    };
  }
  if (typeof m.message === 'string') message.message = m.message;
  if (isObject(m.attachments) && Array.isArray(m.attachments.data)) {
    message.attachments = { data: m.attachments.data.filter(isObject) };
  }
  if (typeof m.is_unsupported === 'boolean') message.is_unsupported = m.is_unsupported;
  if (isObject(m.story)) message.story = m.story;
  if (isObject(m.shares) && Array.isArray(m.shares.data)) {
    message.shares = { data: m.shares.data.filter(isObject) };
  }
  if (isObject(m.reply_to)) message.reply_to = m.reply_to;
  return message;
}
