import { MAX_BODY_BYTES } from '../../src/configure-app';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { sign } from '../webhook/webhook-helpers';

interface Operation {
  summary?: string;
  tags?: string[];
  security?: unknown[];
  responses: Record<string, { description?: string; content?: Record<string, unknown> }>;
}
type Paths = Record<string, Record<string, Operation>>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** `security: [{}]` (or an alternative `{}`): no credentials needed (`@Public()`). */
const needsToken = (op: Operation) =>
  !(op.security ?? []).some((requirement) => Object.keys(requirement as object).length === 0);

/** The OpenAPI document behind Swagger UI (/docs-json): what a dashboard developer reads. */
describe('OpenAPI document of every route', () => {
  let app: TestApp;
  let paths: Paths;

  beforeAll(async () => {
    app = await createTestApp();
    paths = (await app.http().get('/docs-json').expect(200)).body.paths as Paths;
  });
  afterAll(async () => {
    await app?.close();
  });

  const operations = () =>
    Object.entries(paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })),
    );

  it('should list the routes of every module', () => {
    const names = operations().map((o) => o.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'GET /instagram-dms/list',
        'POST /instagram-dms/send',
        'GET /accounts',
        'GET /accounts/{id}',
        'DELETE /accounts/{id}',
        'GET /accounts/instagram/connect',
        'GET /accounts/instagram/callback',
        'GET /user-settings',
        'PATCH /user-settings/configs/{account_id}',
        'POST /webhook/instagram',
        'GET /health',
      ]),
    );
  });

  it('should give every operation a summary', () => {
    const missing = operations()
      .filter(({ op }) => !op.summary?.trim())
      .map((o) => o.name);
    expect(missing).toEqual([]);
  });

  it('should document at least one error reply (4xx) of every operation', () => {
    const missing = operations()
      .filter(({ op }) => !Object.keys(op.responses).some((status) => /^4\d\d$/.test(status)))
      .map((o) => o.name);
    expect(missing).toEqual([]);
  });

  it('should document 401 and 429 on every route that needs a token', () => {
    const missing = operations()
      .filter(({ op }) => needsToken(op))
      .filter(({ op }) => !('401' in op.responses && '429' in op.responses))
      .map((o) => o.name);
    expect(missing).toEqual([]);
  });

  it('should show the webhook, health and OAuth callback as open (no token needed)', () => {
    for (const name of [
      'GET /health',
      'GET /webhook/instagram',
      'POST /webhook/instagram',
      'GET /accounts/instagram/callback',
    ]) {
      const op = operations().find((o) => o.name === name)!.op;
      expect({ name, needsToken: needsToken(op) }).toEqual({ name, needsToken: false });
    }
    const list = operations().find((o) => o.name === 'GET /instagram-dms/list')!.op;
    expect(needsToken(list)).toBe(true);
  });

  it('should show an example of every documented error reply in the error envelope', () => {
    const bare: string[] = [];
    for (const { name, op } of operations()) {
      for (const [status, reply] of Object.entries(op.responses)) {
        if (!/^4\d\d$/.test(status)) continue;
        const json = reply.content?.['application/json'] as
          { example?: { success?: unknown; error?: { code?: unknown } } } | undefined;
        if (json?.example?.success !== false || typeof json.example.error?.code !== 'string')
          bare.push(`${name} ${status}`);
      }
    }
    expect(bare).toEqual([]);
  });

  it("should show the webhook's rejections as they are answered", async () => {
    const documented = (name: string, status: string) => {
      const op = operations().find((o) => o.name === name)!.op;
      const json = op.responses[status]?.content?.['application/json'] as
        { example?: { error?: { code?: string; message?: string } } } | undefined;
      return { code: json?.example?.error?.code, message: json?.example?.error?.message };
    };
    const post = (body: string, signature?: string) => {
      const req = app.http().post('/webhook/instagram').set('Content-Type', 'application/json');
      return (signature ? req.set('X-Hub-Signature-256', signature) : req).send(body);
    };
    const notWebhook = '{"entry":[]}';
    const replies = {
      'GET /webhook/instagram 403': await app
        .http()
        .get('/webhook/instagram')
        .query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong', 'hub.challenge': '1' }),
      'POST /webhook/instagram 400': await post(notWebhook, sign(notWebhook)),
      'POST /webhook/instagram 401': await post(notWebhook),
      'POST /webhook/instagram 413': await post(
        JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) }),
      ),
      'GET /webhook/deliveries 400': await app
        .http()
        .get('/webhook/deliveries')
        .query({ status: 'lost' })
        .set(app.bearer(newUserId())),
    };
    for (const [key, res] of Object.entries(replies)) {
      const [method, path, status] = key.split(' ');
      const body = res.body as { error?: { code?: string; message?: string } };
      expect({
        key,
        status: res.status,
        code: body.error?.code,
        message: body.error?.message,
      }).toEqual({ key, status: Number(status), ...documented(`${method} ${path}`, status) });
    }
  });
});
