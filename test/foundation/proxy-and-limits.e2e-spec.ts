import { Agent } from 'node:http';
import { MAX_BODY_BYTES, MAX_DASHBOARD_BODY_BYTES } from '../../src/configure-app';
import type { Test } from 'supertest';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { sign } from '../webhook/webhook-helpers';

/**
 * Linux routes all of 127.0.0.0/8 to loopback, so each test can connect from an address of its
 * own: 127.0.0.2 plays the load balancer (the only trusted hop), the others play clients that
 * reach igdm directly.
 */
const PROXY = '127.0.0.2';
const agents: Agent[] = [];
function from(address: string): Agent {
  const agent = new Agent({ localAddress: address });
  agents.push(agent);
  return agent;
}
const proxy = from(PROXY);
afterAll(() => agents.forEach((agent) => agent.destroy()));

let clientSeq = 0;
/** A client address on the internet, as the load balancer reports it in X-Forwarded-For. */
const newClient = () => `198.51.100.${(clientSeq += 1)}`;

const LIMIT = 3;
const ANONYMOUS_LIMIT = 4;

/** One app for the file: AppModule reads its configuration once, when first imported. */
let app: TestApp;
beforeAll(async () => {
  app = await createTestApp({
    TRUST_PROXY: PROXY,
    THROTTLE_LIMIT: String(LIMIT),
    THROTTLE_ANONYMOUS_LIMIT: String(ANONYMOUS_LIMIT),
    THROTTLE_TTL_MS: '60000',
  });
});
afterAll(async () => {
  await app?.close();
});

/** A request through the load balancer on behalf of `client`. */
const proxied = (req: Test, client: string) => req.agent(proxy).set('X-Forwarded-For', client);

describe('rate limits behind a trusted proxy (TRUST_PROXY)', () => {
  // Public, answers 302 to anyone: counted per client address by the throttler.
  const callback = (agent: Agent, forwardedFor: string) =>
    app
      .http()
      .get('/accounts/instagram/callback')
      .agent(agent)
      .set('X-Forwarded-For', forwardedFor);

  it('should count two clients behind the proxy separately', async () => {
    const alice = newClient();
    const bob = newClient();
    for (let i = 0; i < LIMIT; i += 1) await callback(proxy, alice).expect(302);
    const limited = await callback(proxy, alice).expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
    // Same load balancer, another client: untouched.
    await callback(proxy, bob).expect(302);
    // What a client writes itself stays to the left of what the proxy appends: ignored.
    await callback(proxy, `${bob}, ${alice}`).expect(429);
  });

  it('should not let a client that is not the proxy pick its address with X-Forwarded-For', async () => {
    const direct = from('127.0.0.3');
    for (let i = 0; i < LIMIT; i += 1) await callback(direct, newClient()).expect(302);
    const res = await callback(direct, newClient()).expect(429);
    expect(res.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
  });

  it('should count unauthenticated requests of a direct client by its own address too', async () => {
    const direct = from('127.0.0.4');
    const list = () =>
      app.http().get('/instagram-dms/list').agent(direct).set('X-Forwarded-For', newClient());
    for (let i = 0; i < ANONYMOUS_LIMIT; i += 1) await list().expect(401);
    await list().expect(429);
  });

  it('should never answer 429 on /health, however many checks one address sends', async () => {
    const balancer = newClient();
    const direct = from('127.0.0.5');
    for (let i = 0; i < (LIMIT + ANONYMOUS_LIMIT) * 3; i += 1) {
      await proxied(app.http().get('/health'), balancer).expect(200);
      await app.http().get('/health/').agent(direct).expect(200);
    }
  });
});

describe('unauthenticated floods and body sizes', () => {
  const list = (client: string, headers: Record<string, string> = {}) =>
    proxied(app.http().get('/instagram-dms/list'), client).set(headers);

  it('should answer 429 with Retry-After in the envelope once an address has used its budget of unauthenticated requests', async () => {
    const ip = newClient();
    for (let i = 0; i < ANONYMOUS_LIMIT; i += 1) await list(ip).expect(401);
    const limited = await list(ip).expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
    // A well-formed token with the wrong signature buys nothing.
    const forged = `${app.bearer(newUserId()).Authorization.slice(0, -4)}AAAA`;
    await list(ip, { Authorization: forged }).expect(429);
    // A valid token from the same address, another address, the webhook and /health: untouched.
    await list(ip, app.bearer(newUserId())).expect(200);
    await list(newClient()).expect(401);
    const delivery = JSON.stringify({ object: 'page', entry: [] });
    await proxied(app.http().post('/webhook/instagram'), ip)
      .set('Content-Type', 'application/json')
      .set('X-Hub-Signature-256', sign(delivery))
      .send(delivery)
      .expect(200);
    await proxied(app.http().get('/health'), ip).expect(200);
  });

  it('should refuse an unauthenticated body past the budget before reading it', async () => {
    const ip = newClient();
    const send = () =>
      proxied(app.http().post('/instagram-dms/send'), ip)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ pad: 'x'.repeat(MAX_DASHBOARD_BODY_BYTES * 3) }));
    // Too large, and refused before the guard: each such request spends the budget.
    for (let i = 0; i < ANONYMOUS_LIMIT; i += 1) await send().expect(413);
    // Not 413: the budget is checked before the body parser runs.
    await send().expect(429);
  });

  it('should bound a parallel burst by the budget, not by the requests in flight', async () => {
    const ip = newClient();
    const statuses = (await Promise.all(Array.from({ length: 12 }, () => list(ip)))).map(
      (res) => res.status,
    );
    expect(statuses.filter((s) => s === 401)).toHaveLength(ANONYMOUS_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - ANONYMOUS_LIMIT);
  });

  it('should not spend the budget on public requests that succeed', async () => {
    const ip = newClient();
    for (let i = 0; i < LIMIT; i += 1)
      await proxied(app.http().get('/accounts/instagram/callback'), ip).expect(302);
    for (let i = 0; i < ANONYMOUS_LIMIT * 3; i += 1)
      await proxied(app.http().get('/docs-json'), ip).expect(200);
    for (let i = 0; i < ANONYMOUS_LIMIT; i += 1) await list(ip).expect(401);
    await list(ip).expect(429);
  });

  it('should answer 413 in the envelope to a dashboard body over 64 KiB and still take 1 MiB on the webhook', async () => {
    const userId = newUserId();
    const send = (bytes: number) =>
      app
        .http()
        .post('/instagram-dms/send')
        .set(app.bearer(userId))
        .set('Content-Type', 'application/json')
        // `{"message_text":"…"}`: 19 bytes around the text, so the body is exactly `bytes` long.
        .send(JSON.stringify({ message_text: 'x'.repeat(bytes - 19) }));
    const tooLarge = await send(MAX_DASHBOARD_BODY_BYTES + 1).expect(413);
    expect(tooLarge.body).toMatchObject({
      success: false,
      error: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' },
    });
    // At the limit: read, then refused by validation.
    await send(MAX_DASHBOARD_BODY_BYTES).expect(400);

    const delivery = JSON.stringify({
      object: 'page',
      entry: [],
      pad: 'x'.repeat(MAX_BODY_BYTES - 1024),
    });
    await app
      .http()
      .post('/webhook/instagram')
      .set('Content-Type', 'application/json')
      .set('X-Hub-Signature-256', sign(delivery))
      .send(delivery)
      .expect(200);
  });
});
