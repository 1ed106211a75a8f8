import { OBJECT_ID_PATTERN } from '../../src/common/api-properties';
import { MAX_BODY_BYTES } from '../../src/configure-app';
import {
  COMMENT_CURSOR_PATTERN,
  CONVERSATION_CURSOR_PATTERN,
  DM_CURSOR_PATTERN,
  encodeCursor,
} from '../../src/dms/dto/cursor';
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
        'GET /instagram-comments',
        'GET /instagram-comments/{comment_id}',
        'GET /accounts',
        'GET /accounts/{id}',
        'DELETE /accounts/{id}',
        'GET /accounts/instagram/connect',
        'GET /accounts/instagram/callback',
        'POST /accounts/instagram/connect/finish',
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
      // /health has none: it is public, never rate limited, and reads no input.
      .filter(({ name }) => name !== 'GET /health')
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

/**
 * The document is exact: it declares the rules the server enforces (so a client or a fuzzer that
 * follows it is never refused for what it could not know), every status a route answers, and
 * the server answers 405 + Allow for a method a documented path does not have.
 * test/reliability/openapi-conformance.e2e-spec.ts runs schemathesis on all of it.
 */
describe('OpenAPI document: exactness', () => {
  interface Parameter {
    name: string;
    in: string;
    required?: boolean;
    schema?: { type?: string; pattern?: string; minimum?: number; maximum?: number };
  }
  interface FullOperation extends Operation {
    parameters?: Parameter[];
    requestBody?: { content: Record<string, { schema?: { $ref?: string } }> };
  }
  let app: TestApp;
  let doc: {
    paths: Record<string, Record<string, FullOperation>>;
    components: { schemas: Record<string, Record<string, unknown>> };
  };
  const ENVELOPE = '#/components/schemas/ErrorEnvelopeDto';

  beforeAll(async () => {
    app = await createTestApp();
    doc = (await app.http().get('/docs-json').expect(200)).body as typeof doc;
  });
  afterAll(async () => {
    await app?.close();
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, method, path, op })),
    );
  const pathParams = (op: FullOperation) => (op.parameters ?? []).filter((p) => p.in === 'path');

  it('should give every ObjectId path parameter the ObjectId pattern, and every other one a rule', () => {
    const loose: string[] = [];
    for (const { name, op } of operations()) {
      for (const p of pathParams(op)) {
        const s = p.schema ?? {};
        const ruled = s.pattern !== undefined || (s.type === 'integer' && s.maximum !== undefined);
        const objectId =
          p.name === 'account_id' || (p.name === 'id' && !name.includes('/conversations/'));
        if (!ruled || (objectId && s.pattern !== OBJECT_ID_PATTERN))
          loose.push(`${name} ${p.name}`);
      }
    }
    expect(loose).toEqual([]);
  });

  it('should refuse with 400 a path parameter its pattern refuses (the rule is the enforced one)', async () => {
    const answers: string[] = [];
    for (const { name, method, path, op } of operations()) {
      if (pathParams(op).length === 0) continue;
      // `!` matches no documented path parameter pattern or integer.
      const url = path.replace(/\{[^}]+\}/g, '%21');
      const res = await app.http()[method as 'get'](url).set(app.bearer(newUserId()));
      if (res.status !== 400 || res.body.success !== false) answers.push(`${name} ${res.status}`);
    }
    expect(answers).toEqual([]);
  });

  it('should list 400 and 404 on every route with a path parameter, 401, 429 and 503 behind the token', () => {
    const missing = operations().flatMap(({ name, op }) => {
      const wanted = [
        ...(pathParams(op).length > 0 ? ['400', '404'] : []),
        ...((op.parameters ?? []).some((p) => p.in === 'query' && p.schema?.pattern)
          ? ['400']
          : []),
        ...(needsToken(op) ? ['401', '429', '503'] : []),
      ];
      return wanted.filter((status) => !(status in op.responses)).map((s) => `${name} ${s}`);
    });
    expect([...new Set(missing)]).toEqual([]);
  });

  it('should list 400, 413 and 415 on every route that reads a JSON body, which refuses unknown fields', () => {
    const missing: string[] = [];
    for (const { name, op } of operations()) {
      const json = op.requestBody?.content['application/json'];
      if (!json) continue;
      for (const status of ['400', '413', '415'])
        if (!(status in op.responses)) missing.push(`${name} ${status}`);
      const ref = json.schema?.$ref;
      const component = ref ? doc.components.schemas[ref.split('/').pop()!] : undefined;
      // The webhook's body is inline and open: it is read as Meta sends it.
      if (component && component.additionalProperties !== false)
        missing.push(`${name} additionalProperties`);
    }
    expect(missing).toEqual([]);
  });

  it('should describe every error reply with the shared error envelope', () => {
    const bare: string[] = [];
    for (const { name, op } of operations()) {
      for (const [status, reply] of Object.entries(op.responses)) {
        if (!/^[45]\d\d$/.test(status) || name === 'GET /health') continue;
        const json = reply.content?.['application/json'] as { schema?: { $ref?: string } };
        if (json?.schema?.$ref !== ENVELOPE) bare.push(`${name} ${status}`);
      }
    }
    expect(bare).toEqual([]);
  });

  it('should describe the cursors it hands out', () => {
    const id = '65a1f0c2e4b0a1b2c3d4e5f6';
    expect(encodeCursor({ t: Date.now(), id })).toMatch(new RegExp(DM_CURSOR_PATTERN));
    expect(encodeCursor({ t: Date.now(), id: `${id}:900000000000101` })).toMatch(
      new RegExp(CONVERSATION_CURSOR_PATTERN),
    );
    expect(encodeCursor({ t: Date.now(), id: '17890000000000003' })).toMatch(
      new RegExp(COMMENT_CURSOR_PATTERN),
    );
  });

  it('should answer a method a documented path does not have with 405, Allow and the envelope', async () => {
    const user = app.bearer(newUserId());
    const answers = await Promise.all(
      [
        ['trace', '/accounts'],
        ['put', '/health'],
        ['get', '/instagram-dms/send'],
        // A parameterised sibling does not count when the segment is not its parameter:
        // /accounts/{id} takes ObjectIds, so /accounts/health has GET only.
        ['delete', '/accounts/health'],
        ['patch', '/instagram-dms/list'],
        ['post', `/accounts/${'a'.repeat(24)}`],
      ].map(async ([method, path]) => {
        const res = await app.http()[method as 'get'](path).set(user);
        return {
          path,
          method,
          status: res.status,
          allow: res.headers.allow,
          code: res.body?.error?.code,
        };
      }),
    );
    const allow: Record<string, string> = {
      '/accounts': 'GET, HEAD, OPTIONS',
      '/health': 'GET, HEAD, OPTIONS',
      '/instagram-dms/send': 'POST, OPTIONS',
      '/accounts/health': 'GET, HEAD, OPTIONS',
      '/instagram-dms/list': 'GET, HEAD, OPTIONS',
      [`/accounts/${'a'.repeat(24)}`]: 'GET, DELETE, HEAD, OPTIONS',
    };
    expect(answers).toEqual(
      answers.map(({ path, method }) => ({
        path,
        method,
        status: 405,
        allow: allow[path],
        code: 'METHOD_NOT_ALLOWED',
      })),
    );
  });

  it('should still answer OPTIONS with Allow, HEAD like GET, and 404 for a path it does not have', async () => {
    const options = await app.http().options('/instagram-dms/send');
    expect({ status: options.status, allow: options.headers.allow }).toEqual({
      status: 204,
      allow: 'POST, OPTIONS',
    });
    expect((await app.http().head('/health')).status).toBe(200);
    for (const [method, path] of [
      ['get', '/nowhere'],
      ['trace', '/nowhere'],
      ['post', '/accounts/instagram'],
    ]) {
      const res = await app.http()[method as 'get'](path).set(app.bearer(newUserId()));
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({
        method,
        path,
        status: 404,
        code: 'NOT_FOUND',
      });
    }
    // A malformed id on a route that exists is still that route's 400.
    const bad = await app.http().delete('/accounts/not-an-id').set(app.bearer(newUserId()));
    expect(bad.status).toBe(400);
  });
});
