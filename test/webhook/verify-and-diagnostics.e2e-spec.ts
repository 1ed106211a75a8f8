import type { MetaSimulator } from '../../meta-simulator';
import { VERIFY_HANDSHAKE_LIMIT } from '../../src/webhook/webhook.controller';
import { newUserId, type TestApp } from '../support/e2e';
import { givenAccount, givenTenant } from '../support/factories';
import {
  eventually,
  messagingBody,
  newMid,
  postWebhook,
  startAppWithSimulator,
} from './webhook-helpers';

describe('Webhook handshake limit and delivery diagnostics across owners (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startAppWithSimulator());
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  // The app trusts X-Forwarded-For from loopback (a reverse proxy), so each test picks its IPs.
  let ipSeq = 0;
  const newIp = () => `198.51.100.${(ipSeq += 1)}`;

  describe('GET /webhook/instagram', () => {
    const handshake = (ip: string, token: string) =>
      app
        .http()
        .get('/webhook/instagram')
        .set('X-Forwarded-For', ip)
        .query({ 'hub.mode': 'subscribe', 'hub.verify_token': token, 'hub.challenge': '7' });

    it('should answer 429 in the envelope past the handshake budget of one client address', async () => {
      const ip = newIp();
      await handshake(ip, app.env.META_WEBHOOK_VERIFY_TOKEN).expect(200, '7');
      for (let i = 1; i < VERIFY_HANDSHAKE_LIMIT; i += 1)
        await handshake(ip, `guess-${i}`).expect(403);

      const limited = await handshake(ip, app.env.META_WEBHOOK_VERIFY_TOKEN).expect(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body).toMatchObject({ success: false, error: { code: 'RATE_LIMITED' } });

      // Another address still completes it, and deliveries from the limited one are never refused.
      await handshake(newIp(), app.env.META_WEBHOOK_VERIFY_TOKEN).expect(200, '7');
      const body = JSON.stringify({ object: 'page', entry: [] });
      for (let i = 0; i < VERIFY_HANDSHAKE_LIMIT + 2; i += 1)
        await postWebhook(app, body).set('X-Forwarded-For', ip).expect(200);
    });
  });

  describe('GET /webhook/deliveries', () => {
    const textFrom = (igId: string) =>
      messagingBody(igId, [
        {
          sender: { id: `9${Date.now()}` },
          recipient: { id: igId },
          timestamp: Date.now(),
          message: { mid: newMid(), text: 'hello' },
        },
      ]);
    const processed = (userId: string) =>
      app.http().get('/webhook/deliveries?status=processed').set(app.bearer(userId)).expect(200);
    const ids = (res: { body: { data: { id: string }[] } }) => res.body.data.map((d) => d.id);

    it("should not show a new owner of an Instagram account the previous owner's deliveries", async () => {
      const { biz, account: first } = await givenTenant(app, meta);
      for (let i = 0; i < 2; i += 1)
        await postWebhook(app, textFrom(biz.igId)).expect(200, { success: true });
      const theirs = await eventually(async () => {
        const res = await processed(first.userId);
        return res.body.total === 2 ? res : null;
      });

      // The first user disconnects it; a second user connects the same Instagram account.
      await app
        .http()
        .delete(`/accounts/${first.accountId}`)
        .set(app.bearer(first.userId))
        .expect(200);
      const secondUser = newUserId();
      await givenAccount(app, {
        userId: secondUser,
        igId: biz.igId,
        accessToken: biz.accessToken,
      });
      await postWebhook(app, textFrom(biz.igId)).expect(200, { success: true });

      const mine = await eventually(async () => {
        const res = await processed(secondUser);
        return res.body.total >= 1 ? res : null;
      });
      expect(ids(mine).filter((id) => ids(theirs).includes(id))).toEqual([]);
      expect(mine.body.total).toBe(1);
      expect(mine.body.data).toHaveLength(1);
      // The first user no longer owns it and sees nothing either.
      expect((await processed(first.userId)).body).toMatchObject({ total: 0, data: [] });
    });
  });
});
