import http from 'node:http';
import { Types } from 'mongoose';
import type { TestApp } from '../support/e2e';
import { eventually } from '../support/wait';

let seq = 0;

/** An instagram_dms document written straight to the database (igdm's shape unless overridden). */
export type StoredTestDm = { _id: Types.ObjectId } & Record<string, unknown>;

export async function givenDm(
  app: TestApp,
  fields: Record<string, unknown>,
): Promise<StoredTestDm> {
  seq += 1;
  const now = new Date();
  const direction = (fields.direction as string | undefined) ?? 'inbound';
  const customer = (fields.customer_id as string | undefined) ?? '900000000000001';
  const doc: StoredTestDm = {
    _id: new Types.ObjectId(),
    ig_id: '17841400000000001',
    user_id: null,
    sender_id: direction === 'inbound' ? customer : '17841400000000001',
    recipient_id: direction === 'inbound' ? '17841400000000001' : customer,
    message_id: `mid.test.${process.pid}.${seq}`,
    text: `message ${seq}`,
    timestamp: now.getTime(),
    is_echo: false,
    direction,
    read: false,
    manual_dm: false,
    is_deleted: false,
    customer_id: customer,
    message_type: 'text',
    created_at: now,
    updated_at: now,
    ...fields,
  };
  await app.connection.db!.collection('instagram_dms').insertOne(doc);
  return doc;
}

export async function givenConversation(
  app: TestApp,
  accountId: string,
  customerId: string,
  fields: Record<string, unknown> = {},
): Promise<string> {
  const _id = `${accountId}:${customerId}`;
  const now = new Date();
  await app.connection.db!.collection('instagram_conversations').updateOne(
    { _id: _id as never },
    {
      $set: {
        platform_account_id: accountId,
        customer_id: customerId,
        unread_count: 0,
        last_message_at: now,
        created_at: now,
        updated_at: now,
        ...fields,
      },
    },
    { upsert: true },
  );
  return _id;
}

export async function snapshot(app: TestApp): Promise<string> {
  const db = app.connection.db!;
  const parts: unknown[] = [];
  for (const name of [
    'instagram_dms',
    'instagram_conversations',
    'instagram_comments',
    'accounts',
  ]) {
    parts.push(await db.collection(name).find({}).sort({ _id: 1 }).toArray());
  }
  return JSON.stringify(parts);
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A raw SSE client: parses events as they arrive. */
export class SseClient {
  readonly events: SseEvent[] = [];
  headers: http.IncomingHttpHeaders = {};
  status = 0;
  /** The server ended the response (or the connection dropped). */
  ended = false;
  private req?: http.ClientRequest;
  private buffer = '';

  static open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      client.req = http.get(
        url,
        { headers: { Accept: 'text/event-stream', ...headers } },
        (res) => {
          client.status = res.statusCode ?? 0;
          client.headers = res.headers;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => client.feed(chunk));
          res.on('error', () => undefined);
          res.on('close', () => (client.ended = true));
          resolve(client);
        },
      );
      client.req.on('error', reject);
    });
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let at: number;
    while ((at = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      const event: SseEvent = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) event.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('data: ')) event.data = (event.data ?? '') + line.slice(6);
      }
      this.events.push(event);
    }
  }

  data(): SseEvent[] {
    return this.events.filter((e) => e.id !== undefined);
  }

  async waitForEvents(
    predicate: (events: SseEvent[]) => boolean,
    timeoutMs = 5000,
  ): Promise<SseEvent[]> {
    await eventually(() => Promise.resolve(predicate(this.events)), timeoutMs);
    return this.events;
  }

  close(): void {
    this.req?.destroy();
  }
}
