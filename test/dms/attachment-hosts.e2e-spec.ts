import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { mongo } from 'mongoose';
import type { MetaSimulator } from '../../meta-simulator';
import { WEBHOOK_FIELDS } from '../../src/accounts/accounts.types';
import { newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { startSyncApp } from '../sync/sync-helpers';
import { eventually } from '../webhook/webhook-helpers';

/**
 * GET /instagram-dms/:id/attachments/:n makes no request to a stored URL off MEDIA_HOSTS (here:
 * the simulator's CDN only). A recorder on another local port stands for an internal service.
 */
describe('Attachment links only on MEDIA_HOSTS (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;
  let dms: mongo.Collection<mongo.Document>;
  let recorder: http.Server;
  let recorderUrl: string;
  const hits: string[] = [];

  beforeAll(async () => {
    recorder = http.createServer((req, res) => {
      hits.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('instance secrets');
    });
    recorder.listen(0, '127.0.0.1');
    await once(recorder, 'listening');
    recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
    ({ app, meta } = await startSyncApp());
    dms = app.connection.db!.collection('instagram_dms');
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
    recorder?.close();
  });

  /** An image DM from a customer, stored through the webhook, whose URL is then replaced. */
  async function dmWithUrl(url: string) {
    const userId = newUserId();
    const biz = meta.createBusiness();
    await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
      username: biz.username,
      name: biz.name,
      extra: { subscribed_fields: [...WEBHOOK_FIELDS], subscription_checked_at: new Date() },
    });
    const { mid } = await meta.customer(biz).sendsImage();
    const dm = await eventually(() =>
      dms.findOne({ message_id: mid, sender_name: { $exists: true } }),
    );
    // Fetched just now: the route would trust and probe it rather than re-read it.
    const attachments = [{ ...dm.attachments[0], url, url_fetched_at: new Date() }];
    await dms.updateOne({ _id: dm._id }, { $set: { attachments } });
    return { userId, dm };
  }
  const open = (userId: string, id: unknown) =>
    app
      .http()
      .get(`/instagram-dms/${String(id)}/attachments/0`)
      .set(app.bearer(userId));

  it('should not request a private address and redirect to the link Graph gives instead', async () => {
    const reads = () => meta.requests({ endpoint: 'message' }).length;
    for (const url of [
      `${recorderUrl}/latest/meta-data/iam/security-credentials/`,
      'http://169.254.169.254/latest/meta-data/',
    ]) {
      const { userId, dm } = await dmWithUrl(url);
      const readsBefore = reads();
      const res = await open(userId, dm._id);
      expect(hits).toEqual([]);
      expect(res.status).toBe(302);
      expect(res.headers.location).not.toBe(url);
      expect(res.headers.location.startsWith(`${meta.url}/cdn/`)).toBe(true);
      expect(reads()).toBe(readsBefore + 1);
      expect((await fetch(res.headers.location)).status).toBe(200);
      const stored = await dms.findOne({ _id: dm._id });
      expect(stored!.attachments[0].url).toBe(res.headers.location);
    }
  });

  it('should answer 410 in the envelope when Graph cannot replace such a link', async () => {
    const { userId, dm } = await dmWithUrl(`${recorderUrl}/admin`);
    // A legacy row without a message id: there is nothing to read again from Graph.
    await dms.updateOne({ _id: dm._id }, { $unset: { message_id: '' } });
    const res = await open(userId, dm._id);
    expect(hits).toEqual([]);
    expect(res.status).toBe(410);
    expect(res.body).toMatchObject({ success: false, error: { code: 'MEDIA_EXPIRED' } });
    expect(res.headers.location).toBeUndefined();
  });
});
