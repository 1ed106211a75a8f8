import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, TEST_APP_SECRET, TEST_VERIFY_TOKEN, type TestApp } from '../support/e2e';

export { deliveriesSettled, eventually } from '../support/wait';

export function sign(body: string, secret = TEST_APP_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function newMid(): string {
  return `aWdfZAG1f${randomBytes(18).toString('base64url')}`;
}

export function newIgId(): string {
  return `1784${Date.now().toString().slice(-7)}${Math.floor(Math.random() * 1e5)
    .toString()
    .padStart(5, '0')}`;
}

export const WEBHOOK_TEST_ENV = {
  WEBHOOK_SWEEP_INTERVAL_MS: '200',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_ENRICH_RETRY_MS: '100',
};

export async function startAppWithSimulator(
  overrides: Record<string, string | undefined> = {},
): Promise<{ app: TestApp; meta: MetaSimulator }> {
  const meta = await startMetaSimulator({
    appSecret: TEST_APP_SECRET,
    verifyToken: TEST_VERIFY_TOKEN,
  });
  const app = await createTestApp({
    INSTAGRAM_GRAPH_URL: meta.graphUrl,
    INSTAGRAM_API_URL: meta.apiUrl,
    INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
    ...WEBHOOK_TEST_ENV,
    ...overrides,
  });
  await app.app.listen(0, '127.0.0.1');
  const { port } = app.app.getHttpServer().address() as AddressInfo;
  meta.setWebhookUrl(`http://127.0.0.1:${port}/webhook/instagram`);
  return { app, meta };
}

/** One messaging event in Meta's envelope. */
export function messagingBody(
  entryId: string,
  events: Record<string, unknown>[],
  standby = false,
): string {
  return JSON.stringify({
    object: 'instagram',
    entry: [{ time: Date.now(), id: entryId, [standby ? 'standby' : 'messaging']: events }],
  });
}

/** A webhook delivery as Meta posts it; `signature: null` sends none. */
export function postWebhook(app: TestApp, body: string, signature: string | null = sign(body)) {
  const req = app.http().post('/webhook/instagram').set('Content-Type', 'application/json');
  if (signature !== null) req.set('X-Hub-Signature-256', signature);
  return req.send(body);
}
