import type { AddressInfo } from 'node:net';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import { givenDm, SseClient, type SseEvent } from './dms-helpers';
import { eventually } from '../support/wait';

describe('GET /instagram-dms/stream', () => {
  let meta: MetaSimulator;
  let app: TestApp;
  let base: string;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    meta = await startMetaSimulator({ appSecret: TEST_APP_SECRET });
    app = await createTestApp({
      INSTAGRAM_GRAPH_URL: meta.graphUrl,
      INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
      DMS_STREAM_HEARTBEAT_MS: '150',
      DMS_STREAM_POLL_MS: '100',
    });
    await app.app.listen(0);
    const { port } = app.app.getHttpServer().address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    meta.setWebhookUrl(`${base}/webhook/instagram`);
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  async function tenant() {
    const { biz, userId, account } = await givenTenant(app, meta);
    return { userId, accountId: account.accountId, customer: meta.customer(biz) };
  }

  async function open(userId: string, headers: Record<string, string> = {}, query = '') {
    const client = await SseClient.open(`${base}/instagram-dms/stream${query}`, {
      ...app.bearer(userId),
      ...headers,
    });
    clients.push(client);
    return client;
  }

  const dmEvents = (events: SseEvent[]) =>
    events
      .filter((e) => e.event === 'dm')
      .map(
        (e) =>
          JSON.parse(e.data!) as {
            _id: string;
            message_id: string;
            text: string;
            platform_account_id: string;
          },
      );

  it('should answer with SSE headers for proxies and send heartbeats', async () => {
    const a = await tenant();
    const client = await open(a.userId);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(client.headers['cache-control']).toMatch(/no-cache/);
    expect(client.headers['x-accel-buffering']).toBe('no');
    expect(client.headers.connection).toBe('keep-alive');
    await client.waitForEvents((events) => events.filter((e) => e.comment === 'ping').length >= 2);
  });

  it('should require a token', async () => {
    const client = await SseClient.open(`${base}/instagram-dms/stream`, {});
    clients.push(client);
    expect(client.status).toBe(401);
  });

  it('should deliver the caller’s new DMs and threads live, never another tenant’s', async () => {
    const a = await tenant();
    const b = await tenant();
    const client = await open(a.userId);
    await new Promise((r) => setTimeout(r, 100));
    const { mid } = await b.customer.sends('for B only');
    const { mid: midA } = await a.customer.sends('hello A');
    await client.waitForEvents((events) => dmEvents(events).some((d) => d.message_id === midA));
    await client.waitForEvents((events) => events.some((e) => e.event === 'conversation'));
    const dms = dmEvents(client.events);
    expect(dms.every((d) => d.platform_account_id === a.accountId)).toBe(true);
    expect(dms.some((d) => d.message_id === mid)).toBe(false);
    const conv = client.events.find((e) => e.event === 'conversation')!;
    expect(JSON.parse(conv.data!)).toMatchObject({
      _id: `${a.accountId}:${a.customer.igsid}`,
      window: { open: true },
    });
    for (const e of client.data()) expect(e.id).toMatch(/^\d+-.+$/);
  });

  it('should resume from Last-Event-ID without gaps, then continue live', async () => {
    const a = await tenant();
    const first = await open(a.userId);
    await new Promise((r) => setTimeout(r, 100));
    const { mid: m1 } = await a.customer.sends('one');
    await first.waitForEvents((events) => dmEvents(events).some((d) => d.message_id === m1));
    const lastId = first.data().at(-1)!.id!;
    first.close();

    // While disconnected: two new messages and a change to the first one.
    const { mid: m2 } = await a.customer.sends('two');
    const { mid: m3 } = await a.customer.sends('three');
    const dms = app.connection.db!.collection('instagram_dms');
    await eventually(
      async () => (await dms.countDocuments({ message_id: { $in: [m2, m3] } })) === 2,
    );
    const one = (await dms.findOne({ message_id: m1 }))!;
    await new Promise((r) => setTimeout(r, 5));
    await app
      .http()
      .patch(`/instagram-dms/${String(one._id)}`)
      .set(app.bearer(a.userId))
      .send({ read: true })
      .expect(200);

    const second = await open(a.userId, { 'Last-Event-ID': lastId });
    await second.waitForEvents((events) =>
      ['two', 'three'].every((t) => dmEvents(events).some((d) => d.text === t)),
    );
    await second.waitForEvents((events) => dmEvents(events).some((d) => d.message_id === m1));
    const replayed = dmEvents(second.events);
    expect(replayed.find((d) => d.message_id === m1)).toMatchObject({ read: true });
    // Event ids strictly increase in (updated_at, _id) order, and all are after the resume point.
    const ids = second.data().map((e) => e.id!);
    const key = (id: string) =>
      [Number(id.slice(0, id.indexOf('-'))), id.slice(id.indexOf('-') + 1)] as const;
    for (const id of ids) {
      const [t, k] = key(id);
      const [t0, k0] = key(lastId);
      expect(t > t0 || (t === t0 && k > k0)).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);

    const { mid: m4 } = await a.customer.sends('four');
    await second.waitForEvents((events) => dmEvents(events).some((d) => d.message_id === m4));

    // ?last_event_id= works like the header.
    const third = await open(a.userId, {}, `?last_event_id=${encodeURIComponent(lastId)}`);
    await third.waitForEvents((events) => dmEvents(events).some((d) => d.message_id === m4));
  });

  it('should pick up DMs written by another instance through the database poll', async () => {
    const a = await tenant();
    const client = await open(a.userId);
    await new Promise((r) => setTimeout(r, 50));
    // Written straight to the database: no local event, as if another instance had stored it.
    const dm = await givenDm(app, { platform_account_id: a.accountId, text: 'from elsewhere' });
    await client.waitForEvents((events) => dmEvents(events).some((d) => d._id === String(dm._id)));
  });
});
