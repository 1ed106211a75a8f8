import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { SEND_THROTTLE } from '../../src/dms/user-throttler.guard';

describe('rate limiting of POST /instagram-dms/send', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const limit = SEND_THROTTLE.default.limit;
  // Invalid bodies: counted by the throttler (a guard) before validation, and nothing is sent.
  const send = (userId: string) =>
    app.http().post('/instagram-dms/send').set(app.bearer(userId)).send({});

  it('should answer 429 with Retry-After in the error envelope past the send limit', async () => {
    const userId = newUserId();
    for (let i = 0; i < limit; i += 1) await send(userId).expect(400);
    const res = await send(userId).expect(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });
  });
});

describe('OpenAPI document', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
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
