import type { AddressInfo } from 'node:net';
import type { mongo } from 'mongoose';
import { startMetaSimulator, type Business, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, TEST_APP_SECRET, TEST_VERIFY_TOKEN, type TestApp } from '../support/e2e';
import { eventually, WEBHOOK_TEST_ENV } from '../webhook/webhook-helpers';

export type Doc = mongo.Document;

/** The app with the simulator as Meta (Graph, OAuth, webhooks), import on connect switched on. */
export async function startSyncApp(
  overrides: Record<string, string | undefined> = {},
  existing?: MetaSimulator,
): Promise<{ app: TestApp; meta: MetaSimulator }> {
  const meta =
    existing ??
    (await startMetaSimulator({ appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN }));
  const app = await createTestApp({
    INSTAGRAM_GRAPH_URL: meta.graphUrl,
    INSTAGRAM_API_URL: meta.apiUrl,
    INSTAGRAM_WWW_URL: meta.wwwUrl,
    INSTAGRAM_CLIENT_ID: meta.clientId,
    INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
    ...WEBHOOK_TEST_ENV,
    SYNC_IMPORT_ON_CONNECT: 'true',
    SYNC_RECONCILE_ENABLED: 'false',
    SYNC_RECONCILE_GRACE_MS: '0',
    // The simulator's CDN ('local' style) serves plain http on its own port.
    MEDIA_HOSTS: meta.url,
    ...overrides,
  });
  await app.app.listen(0, '127.0.0.1');
  const { port } = app.app.getHttpServer().address() as AddressInfo;
  meta.setWebhookUrl(`http://127.0.0.1:${port}/webhook/instagram`);
  return { app, meta };
}

/** The OAuth connect flow as a browser and its dashboard do it; returns the connected account id. */
export async function connectThroughOAuth(
  app: TestApp,
  meta: MetaSimulator,
  userId: string,
  biz: Business,
): Promise<string> {
  const res = await app.http().get('/accounts/instagram/connect').set(app.bearer(userId));
  expect(res.status).toBe(200);
  meta.nextAuthorization({ business: biz });
  const authorize = await fetch(res.body.data.url as string, { redirect: 'manual' });
  expect(authorize.status).toBe(302);
  const back = new URL(authorize.headers.get('location')!);
  const cb = await app.http().get(`/accounts/instagram/callback${back.search}`);
  expect(cb.status).toBe(302);
  const landing = new URL(cb.headers.location).searchParams;
  expect(landing.get('instagram')).toBe('authorized');
  // The dashboard the browser landed on finishes with its user's token.
  const finish = await app
    .http()
    .post('/accounts/instagram/connect/finish')
    .set(app.bearer(userId))
    .send({ connect_ticket: landing.get('connect_ticket') });
  expect(finish.status).toBe(200);
  return finish.body.data.account_id as string;
}

/** The business writes to a customer through the Send API, as Instagram's app would. */
export async function businessSends(
  meta: MetaSimulator,
  biz: Business,
  igsid: string,
  text: string,
): Promise<string> {
  const res = await fetch(`${meta.graphUrl}/v24.0/${biz.igId}/messages`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${biz.accessToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ recipient: { id: igsid }, message: { text } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { message_id: string }).message_id;
}

/** GET /accounts/:id/import until the import has finished (done or failed). */
export async function importFinished(
  app: TestApp,
  userId: string,
  accountId: string,
  after?: Date,
): Promise<Record<string, any>> {
  return eventually(
    async () => {
      const res = await app.http().get(`/accounts/${accountId}/import`).set(app.bearer(userId));
      if (res.status !== 200)
        throw new Error(`GET import: ${res.status} ${JSON.stringify(res.body)}`);
      const data = res.body.data as Record<string, any>;
      if (data.state !== 'done' && data.state !== 'failed') return null;
      if (after && new Date(data.started_at as string) <= after) return null;
      return data;
    },
    // Imports are paced at Meta's 2 calls/s per account: slow on a loaded machine. Polled every
    // 250 ms: every 25 ms passed the per-user limit (THROTTLE_LIMIT, 600 a minute) after 15 s,
    // and the 429s hid the finished import for the rest of the minute.
    60_000,
    250,
  );
}
