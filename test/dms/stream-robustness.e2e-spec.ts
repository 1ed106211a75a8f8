import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { givenConversation, givenDm, SseClient, type SseEvent } from './dms-helpers';
import { DmsStreamService } from '../../src/dms/dms-stream.service';
import { DmsService } from '../../src/dms/dms.service';
import { DM_CHANGED } from '../../src/dms/events/dm-events';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GET /instagram-dms/stream under resumes, early disconnects and slow readers (e2e)', () => {
  let app: TestApp;
  let base: string;
  const clients: SseClient[] = [];
  const streamResponses: http.ServerResponse[] = [];

  beforeAll(async () => {
    app = await createTestApp({
      DMS_STREAM_HEARTBEAT_MS: '200',
      DMS_STREAM_POLL_MS: '100',
      DMS_STREAM_REPLAY_LIMIT: '3',
    });
    await app.app.listen(0, '127.0.0.1');
    const server = app.app.getHttpServer() as http.Server;
    // Observe (not change) the stream responses, to read their output buffer.
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url?.startsWith('/instagram-dms/stream')) streamResponses.push(res);
    });
    const { port } = server.address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    streamResponses.forEach((r) => r.destroy());
    await app?.close();
  });

  async function tenant() {
    const userId = newUserId();
    const igId = `1784${Math.floor(Math.random() * 1e11)}`;
    const { accountId } = await givenAccount(app, { userId, igId, accessToken: 'tok' });
    return { userId, accountId };
  }

  async function open(userId: string, headers: Record<string, string> = {}) {
    const client = await SseClient.open(`${base}/instagram-dms/stream`, {
      ...app.bearer(userId),
      ...headers,
    });
    clients.push(client);
    return client;
  }

  const dmIds = (events: SseEvent[]) =>
    events.filter((e) => e.event === 'dm').map((e) => (JSON.parse(e.data!) as { _id: string })._id);

  /** Five DMs of the account, one a second, starting 59 s ago; their ids. */
  async function fiveDms(accountId: string, t0: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const at = new Date(t0 + i * 1000);
      const dm = await givenDm(app, {
        platform_account_id: accountId,
        created_at: at,
        updated_at: at,
      });
      ids.push(String(dm._id));
    }
    return ids;
  }

  /** The DM ids a client sees reconnecting four times, as EventSource does, from its last id. */
  async function seenByResuming(userId: string, firstId: string): Promise<Set<string>> {
    const seen = new Set<string>();
    let lastId = firstId;
    for (let round = 0; round < 4; round++) {
      const client = await open(userId, { 'Last-Event-ID': lastId });
      await sleep(400);
      dmIds(client.events).forEach((id) => seen.add(id));
      lastId = client.data().at(-1)?.id ?? lastId;
      client.close();
    }
    return seen;
  }

  it('should deliver every DM to a client that keeps resuming from its Last-Event-ID', async () => {
    const a = await tenant();
    const t0 = Date.now() - 60_000;
    // Five DMs, then a conversation change after them (replay limit 3 per collection).
    const dms = await fiveDms(a.accountId, t0);
    await givenConversation(app, a.accountId, '900000000000001', {
      updated_at: new Date(t0 + 10_000),
    });

    const seen = await seenByResuming(a.userId, `${t0}-0`);
    expect(dms.filter((id) => !seen.has(id))).toEqual([]);
  });

  it('should deliver all five DMs by resuming when no later conversation change exists', async () => {
    const a = await tenant();
    const t0 = Date.now() - 60_000;
    const dms = await fiveDms(a.accountId, t0);

    const seen = await seenByResuming(a.userId, `${t0}-0`);
    expect(dms.filter((id) => !seen.has(id))).toEqual([]);
  });

  it('should keep delivering DMs written by other instances after a far-future Last-Event-ID', async () => {
    const a = await tenant();
    const client = await open(a.userId, { 'Last-Event-ID': `${Date.now() + 86_400_000}-x` });
    await sleep(150);
    // Written straight to the database, as another instance would (the poll must find it).
    const dm = await givenDm(app, { platform_account_id: a.accountId, text: 'from elsewhere' });
    await sleep(1500);
    expect(dmIds(client.events)).toContain(String(dm._id));
  });

  it('should drop its subscription when the client goes away while the stream is being opened', async () => {
    const a = await tenant();
    const stream = app.app.get<{ live: { observers: unknown[] } }>(DmsStreamService);
    const dmsService = app.app.get(DmsService);
    const original = dmsService.scopeAccounts.bind(dmsService);
    const before = stream.live.observers.length;
    // A slow database for the account lookup (300 ms).
    dmsService.scopeAccounts = async (...args: Parameters<DmsService['scopeAccounts']>) => {
      await sleep(300);
      return original(...args);
    };
    try {
      const req = http.get(`${base}/instagram-dms/stream`, {
        headers: { Accept: 'text/event-stream', ...app.bearer(a.userId) },
      });
      req.on('error', () => undefined);
      await sleep(100);
      req.destroy(); // the browser navigates away before the headers arrive
      await sleep(1000);
    } finally {
      dmsService.scopeAccounts = original;
    }
    expect(stream.live.observers.length).toBe(before);
  });

  it('should drop its subscription when the client goes away after the headers', async () => {
    const a = await tenant();
    const stream = app.app.get<{ live: { observers: unknown[] } }>(DmsStreamService);
    await sleep(300);
    const before = stream.live.observers.length;
    const client = await open(a.userId);
    await sleep(100);
    expect(stream.live.observers.length).toBe(before + 1);
    client.close();
    await sleep(500);
    expect(stream.live.observers.length).toBe(before);
  });

  it('should not buffer without bound for a client that never reads', async () => {
    const a = await tenant();
    const { port } = new URL(base);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const auth = app.bearer(a.userId).Authorization;
    socket.write(
      `GET /instagram-dms/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: ${auth}\r\n\r\n`,
    );
    await new Promise((r) => socket.once('data', r));
    socket.pause(); // stops reading: the kernel buffers fill, then the server's
    const res = streamResponses.at(-1)!;

    const emitter = app.app.get(EventEmitter2);
    const big = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 120; i++) {
      const dm = await givenDm(app, { platform_account_id: a.accountId, text: big });
      await emitter.emitAsync(DM_CHANGED, {
        userId: a.userId,
        accountId: a.accountId,
        dmId: String(dm._id),
        conversationId: `${a.accountId}:900000000000001`,
        change: 'created',
      });
    }
    await sleep(300);
    const buffered = res.writableLength;
    const open = !res.destroyed && !res.writableEnded;
    socket.destroy();
    // ~30 MB sent at a client that reads nothing: either the stream is closed, or little is held.
    const heldMb = open ? Math.round(buffered / 1e6) : 0;
    expect(heldMb).toBeLessThan(8);
  });
});
