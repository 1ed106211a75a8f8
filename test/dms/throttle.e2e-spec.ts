import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { sign } from '../webhook/webhook-helpers';

/** Small limits, set through the validated THROTTLE_* variables, keep the bursts short. */
const LIMIT = 5;
const SEND_LIMIT = 3;

describe('rate limiting of our API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({
      THROTTLE_LIMIT: String(LIMIT),
      THROTTLE_SEND_LIMIT: String(SEND_LIMIT),
      THROTTLE_TTL_MS: '60000',
    });
  });
  afterAll(async () => {
    await app.close();
  });

  // The app trusts X-Forwarded-For from loopback (a reverse proxy), so each test picks its IPs.
  let ipSeq = 0;
  const newIp = () => `203.0.113.${(ipSeq += 1)}`;
  const list = (userId: string, ip: string) =>
    app.http().get('/instagram-dms/list').set(app.bearer(userId)).set('X-Forwarded-For', ip);

  it('should count per user, not per IP', async () => {
    const ip = newIp();
    const alice = newUserId();
    const bob = newUserId();
    for (let i = 0; i < LIMIT; i += 1) await list(alice, ip).expect(200);

    const limited = await list(alice, ip).expect(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });

    // Same address, another user: untouched.
    const other = await list(bob, ip).expect(200);
    expect(other.body).toMatchObject({ success: true, data: [] });
    // The exhausted user stays limited from another address.
    await list(alice, newIp()).expect(429);
  });

  it('should answer 429 with Retry-After in the error envelope past the send limit', async () => {
    const userId = newUserId();
    const ip = newIp();
    // Invalid bodies: counted by the throttler (a guard) before validation, and nothing is sent.
    const send = () =>
      app
        .http()
        .post('/instagram-dms/send')
        .set(app.bearer(userId))
        .set('X-Forwarded-For', ip)
        .send({});
    for (let i = 0; i < SEND_LIMIT; i += 1) await send().expect(400);
    const res = await send().expect(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
    // The send limit is its own: listing still works for that user.
    await list(userId, ip).expect(200);
  });

  it('should count public routes per IP', async () => {
    const ip = newIp();
    const callback = (from: string) =>
      app.http().get('/accounts/instagram/callback').set('X-Forwarded-For', from);
    for (let i = 0; i < LIMIT; i += 1) await callback(ip).expect(302);
    const res = await callback(ip).expect(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await callback(newIp()).expect(302);
  });

  it('should never limit /health: a load balancer checks it from one address', async () => {
    const ip = newIp();
    for (let i = 0; i < LIMIT * 3; i += 1)
      await app.http().get('/health').set('X-Forwarded-For', ip).expect(200);
  });

  it('should never answer 429 to Meta on the webhook', async () => {
    const ip = newIp();
    // A signed delivery for another object type: stored as ignored, acknowledged with 200.
    const body = JSON.stringify({ object: 'page', entry: [] });
    for (let i = 0; i < LIMIT * 2; i += 1) {
      await app
        .http()
        .post('/webhook/instagram')
        .set('X-Forwarded-For', ip)
        .set('Content-Type', 'application/json')
        .set('X-Hub-Signature-256', sign(body))
        .send(body)
        .expect(200);
    }
  });

  it('should not let unauthenticated requests use up a user’s budget', async () => {
    const ip = newIp();
    for (let i = 0; i < LIMIT + 1; i += 1)
      await app.http().get('/instagram-dms/list').set('X-Forwarded-For', ip).expect(401);
    await list(newUserId(), ip).expect(200);
  });

  it('should document every DMs route under the DMs tag with bearer auth and error replies', async () => {
    const res = await app.http().get('/docs-json').expect(200);
    const paths = res.body.paths as Record<
      string,
      Record<string, { tags?: string[]; responses: Record<string, unknown> }>
    >;
    for (const [path, method] of [
      ['/instagram-dms/list', 'get'],
      ['/instagram-dms/conversations', 'get'],
      ['/instagram-dms/stream', 'get'],
      ['/instagram-dms/send', 'post'],
      ['/instagram-dms/comments/{comment_id}/reply', 'post'],
      ['/instagram-dms/conversations/{id}/typing', 'post'],
      ['/instagram-dms/conversations/{id}/read', 'post'],
      ['/instagram-dms/{id}/reaction', 'post'],
      ['/instagram-dms/{id}/reaction', 'delete'],
      ['/instagram-dms/{id}', 'patch'],
      ['/instagram-dms/{id}', 'delete'],
    ] as const) {
      const op = paths[path]?.[method];
      expect(op?.tags).toContain('DMs');
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '429']));
    }
    expect(Object.keys(paths['/instagram-dms/send'].post.responses)).toEqual(
      expect.arrayContaining(['400', '404', '409', '422']),
    );
  });
});
