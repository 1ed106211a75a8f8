import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedDatabase, startEmbeddedDatabase } from '../../src/database/embedded-database';
import { createTestApp, TestApp } from '../support/e2e';

/**
 * The real app on a database of its own, so that stopping it (health "down") does not
 * disturb the other test files that share the suite's database.
 */
describe('the running service', () => {
  let database: EmbeddedDatabase;
  let app: TestApp;

  beforeAll(async () => {
    database = await startEmbeddedDatabase({
      dataDir: mkdtempSync(join(tmpdir(), 'igdm-health-')),
    });
    app = await createTestApp({ DATABASE_URL: database.uri });
  });

  afterAll(async () => {
    await app.app.close();
    await database.stop();
  });

  it('should answer 404 with the error envelope for an unknown route', async () => {
    const res = await app.http().get('/no/such/route').expect(404);
    expect(res.body).toEqual({
      success: false,
      error: { code: 'NOT_FOUND', message: 'Cannot GET /no/such/route' },
      detail: 'Cannot GET /no/such/route',
    });
  });

  it('should keep idle connections open longer than a load balancer does (65 s)', async () => {
    const res = await app.http().get('/health').set('Connection', 'keep-alive').expect(200);
    expect(res.headers['keep-alive']).toBe('timeout=65');
  });

  it('should serve Swagger UI and the OpenAPI document with bearer auth', async () => {
    const ui = await app.http().get('/docs').expect(200);
    expect(ui.text).toContain('swagger-ui');
    const spec = await app.http().get('/docs-json').expect(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(spec.body.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(spec.body.paths['/health']).toBeDefined();
  });

  it('should echo a well-formed request id and make one up otherwise', async () => {
    const given = await app.http().get('/health').set('x-request-id', 'trace-42').expect(200);
    expect(given.headers['x-request-id']).toBe('trace-42');
    const made = await app
      .http()
      .get('/health')
      .set('x-request-id', 'bad id with spaces')
      .expect(200);
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('should report healthy while the database answers, then 503 once it stops', async () => {
    const up = await app.http().get('/health').expect(200);
    expect(up.body).toEqual({ status: 'healthy', service: 'Instagram DM API', database: 'up' });

    await database.stop();
    const down = await app.http().get('/health').expect(503);
    expect(down.body).toEqual({
      status: 'unhealthy',
      service: 'Instagram DM API',
      database: 'down',
    });
  });
});
