import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { DMS_STREAM_OPTIONS, type DmsStreamOptions } from '../../src/dms/dms-stream.service';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount, givenTenant } from '../support/factories';
import { givenDm, SseClient, type SseEvent } from './dms-helpers';
import { eventually } from '../support/wait';

const MAX_PER_USER = 2;
const REPLAY_MAX = 4;

/** A reply that is not a stream: status, headers and the JSON body (a stream is left at once). */
function plainGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 200) {
        req.destroy();
        return resolve({ status, headers: res.headers, body: null });
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
}

/** GET /instagram-dms/stream: how many a user may hold, how much a resume replays, when it ends. */
describe('GET /instagram-dms/stream limits (e2e)', () => {
  let sim: MetaSimulator;
  let app: TestApp;
  let base: string;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    sim = await startMetaSimulator();
    app = await createTestApp({
      INSTAGRAM_GRAPH_URL: sim.graphUrl,
      INSTAGRAM_API_URL: sim.apiUrl,
      INSTAGRAM_WWW_URL: sim.wwwUrl,
      INSTAGRAM_CLIENT_ID: sim.clientId,
      INSTAGRAM_CLIENT_SECRET: sim.appSecret,
      DMS_STREAM_HEARTBEAT_MS: '100',
      DMS_STREAM_POLL_MS: '100',
      DMS_STREAM_REPLAY_LIMIT: '2',
      DMS_STREAM_REPLAY_MAX: String(REPLAY_MAX),
      DMS_STREAM_MAX_PER_USER: String(MAX_PER_USER),
    });
    await app.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await app?.close();
    await sim?.close();
  });

  async function tenant() {
    const { userId, account } = await givenTenant(app, sim);
    return { userId, accountId: account.accountId };
  }

  /** A stream, once the user has a place for it (a stream just closed frees its place a bit later). */
  function open(
    userId: string,
    opts: { headers?: Record<string, string>; query?: string; expiresIn?: number } = {},
  ): Promise<SseClient> {
    return eventually(async () => {
      const client = await SseClient.open(`${base}/instagram-dms/stream${opts.query ?? ''}`, {
        ...app.bearer(userId, { expiresIn: opts.expiresIn }),
        ...opts.headers,
      });
      if (client.status === 429) return (client.close(), null);
      clients.push(client);
      return client;
    });
  }

  const pings = (events: SseEvent[]) => events.filter((e) => e.comment === 'ping').length;
  const ended = (events: SseEvent[]) =>
    events
      .filter((e) => e.event === 'stream.end')
      .map((e) => JSON.parse(e.data!) as { reason: string; platform_account_id?: string });
  const dmIds = (events: SseEvent[]) =>
    events.filter((e) => e.event === 'dm').map((e) => (JSON.parse(e.data!) as { _id: string })._id);

  it('should refuse a user more concurrent streams than DMS_STREAM_MAX_PER_USER with 429 and Retry-After', async () => {
    const a = await tenant();
    const held: SseClient[] = [];
    for (let i = 0; i < MAX_PER_USER; i++) {
      held.push(await open(a.userId));
      expect(held[i].status).toBe(200);
    }

    const refused = await plainGet(`${base}/instagram-dms/stream`, app.bearer(a.userId));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.body).toEqual({
      success: false,
      error: {
        code: 'TOO_MANY_STREAMS',
        message: `At most ${MAX_PER_USER} live streams per user are open at once; close one or retry later`,
      },
      detail: `At most ${MAX_PER_USER} live streams per user are open at once; close one or retry later`,
    });

    // Another user is not affected by A's streams.
    expect((await open(newUserId())).status).toBe(200);

    // A closed stream gives its place back.
    held[0].close();
    const again = await eventually(async () => {
      const probe = await plainGet(`${base}/instagram-dms/stream`, app.bearer(a.userId));
      return probe.status === 200 ? probe : null;
    });
    expect(again.status).toBe(200);
  });

  it('should declare the 429 of too many streams in the OpenAPI document', async () => {
    const res = await app.http().get('/docs-json').expect(200);
    const op = (res.body as { paths: Record<string, Record<string, { responses: object }>> }).paths[
      '/instagram-dms/stream'
    ].get;
    expect(JSON.stringify(op.responses['429' as keyof typeof op.responses])).toContain(
      'TOO_MANY_STREAMS',
    );
  });

  it('should tell a client to re-sync, not replay silently past the bound, when a resume holds more than DMS_STREAM_REPLAY_MAX', async () => {
    const a = await tenant();
    const t0 = Date.now() - 60_000;
    const ids: string[] = [];
    for (let i = 1; i <= REPLAY_MAX + 2; i++) {
      const at = new Date(t0 + i * 1000);
      const dm = await givenDm(app, {
        platform_account_id: a.accountId,
        created_at: at,
        updated_at: at,
      });
      ids.push(String(dm._id));
    }

    // A resume within the bound (three left after its id) replays them all.
    const near = await open(a.userId, {
      headers: { 'Last-Event-ID': `${t0 + 3000}-${ids[2]}` },
    });
    await near.waitForEvents((e) => ids.slice(3).every((id) => dmIds(e).includes(id)));
    expect(near.events.some((e) => e.event === 'resync')).toBe(false);
    near.close();

    const far = await open(a.userId, { headers: { 'Last-Event-ID': `${t0}-0` } });
    const [resync] = (await far.waitForEvents((e) => e.some((x) => x.event === 'resync'))).filter(
      (e) => e.event === 'resync',
    );
    expect(JSON.parse(resync.data!)).toEqual({ reason: 'replay_limit', max_documents: REPLAY_MAX });
    // The resync carries an id: reconnecting from it does not ask again.
    expect(resync.id).toMatch(/^\d+-0$/);
    // Nothing of the gap was replayed: the client reloads it instead.
    expect(dmIds(far.events)).toEqual([]);
    // Then the stream goes on live (here: written by "another instance", found by the poll).
    const live = await givenDm(app, { platform_account_id: a.accountId, text: 'after resync' });
    await far.waitForEvents((e) => dmIds(e).includes(String(live._id)));
    far.close();

    // From the resync's id: what changed since, no new resync.
    const next = await givenDm(app, { platform_account_id: a.accountId, text: 'while away' });
    const resumed = await open(a.userId, { headers: { 'Last-Event-ID': resync.id! } });
    await resumed.waitForEvents((e) => dmIds(e).includes(String(next._id)));
    expect(resumed.events.some((e) => e.event === 'resync')).toBe(false);
  });

  it('should end the streams of an account when it is deleted, and leave the others open', async () => {
    const a = await tenant();
    const sibling = await givenAccount(app, {
      userId: a.userId,
      igId: sim.createBusiness().igId,
      accessToken: 'tok',
    });
    const scoped = await open(a.userId, { query: `?platform_account_id=${a.accountId}` });
    const all = await open(a.userId);
    expect([scoped.status, all.status]).toEqual([200, 200]);

    await app.http().delete(`/accounts/${a.accountId}`).set(app.bearer(a.userId)).expect(200);

    await scoped.waitForEvents((e) => ended(e).length > 0);
    expect(ended(scoped.events)).toEqual([
      { reason: 'account_removed', platform_account_id: a.accountId },
    ]);
    await eventually(() => Promise.resolve(scoped.ended));
    // The user's other stream goes on (its other account is still theirs), without the removed one.
    const seen = pings(all.events);
    await all.waitForEvents((e) => pings(e) >= seen + 2);
    expect(all.ended).toBe(false);
    expect(ended(all.events)).toEqual([]);
    const kept = await givenDm(app, { platform_account_id: sibling.accountId, text: 'still mine' });
    const gone = await givenDm(app, { platform_account_id: a.accountId, text: 'not mine' });
    await all.waitForEvents((e) => dmIds(e).includes(String(kept._id)));
    expect(dmIds(all.events)).not.toContain(String(gone._id));

    // The freed place is usable again at once.
    await eventually(
      async () =>
        (await plainGet(`${base}/instagram-dms/stream`, app.bearer(a.userId))).status === 200,
    );
  });

  it('should end a stream whose account another instance removed, at its next re-check', async () => {
    const a = await tenant();
    const options = app.app.get<DmsStreamOptions>(DMS_STREAM_OPTIONS);
    const saved = options.rescopeMs;
    options.rescopeMs = 100;
    try {
      const scoped = await open(a.userId, { query: `?platform_account_id=${a.accountId}` });
      // As another instance's DELETE leaves it: no event reaches this one.
      await app.connection
        .db!.collection('accounts')
        .updateOne({ user_id: a.userId }, { $set: { is_deleted: true } });
      await scoped.waitForEvents((e) => ended(e).length > 0);
      expect(ended(scoped.events)).toEqual([
        { reason: 'account_removed', platform_account_id: a.accountId },
      ]);
      await eventually(() => Promise.resolve(scoped.ended));
    } finally {
      options.rescopeMs = saved;
    }
  });

  it('should end a stream when the token it was opened with expires', async () => {
    const a = await tenant();
    const client = await open(a.userId, { expiresIn: 2 });
    expect(client.status).toBe(200);
    await client.waitForEvents((e) => ended(e).length > 0, 5000);
    expect(ended(client.events)).toEqual([{ reason: 'token_expired' }]);
    await eventually(() => Promise.resolve(client.ended));
    // Reconnecting with the same token is refused.
    const again = await plainGet(
      `${base}/instagram-dms/stream`,
      app.bearer(a.userId, { expiresIn: -1 }),
    );
    expect(again.status).toBe(401);
  });
});
