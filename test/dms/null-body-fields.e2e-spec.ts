import type { AddressInfo } from 'node:net';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, newUserId, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { waitFor } from './dms-helpers';

/** `null` in an optional body field slips past @IsOptional() and reaches the service. */
describe('null in optional body fields (e2e)', () => {
  let meta: MetaSimulator;
  let app: TestApp;

  beforeAll(async () => {
    meta = await startMetaSimulator({ appSecret: TEST_APP_SECRET });
    app = await createTestApp({
      INSTAGRAM_GRAPH_URL: meta.graphUrl,
      INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
    });
    await app.app.listen(0);
    const { port } = app.app.getHttpServer().address() as AddressInfo;
    meta.setWebhookUrl(`http://127.0.0.1:${port}/webhook/instagram`);
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  async function givenThread() {
    const userId = newUserId();
    const biz = meta.createBusiness();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
    });
    const customer = meta.customer(biz);
    const { mid } = await customer.sends('Hi there');
    const conversationId = `${accountId}:${customer.igsid}`;
    const db = app.connection.db!;
    await waitFor(() =>
      db.collection<{ _id: string }>('instagram_conversations').findOne({
        _id: conversationId,
        last_inbound_at: { $exists: true },
        'customer.fetched_at': { $exists: true },
      }),
    );
    const dm = await waitFor(() => db.collection('instagram_dms').findOne({ message_id: mid }));
    return { userId, accountId, customer, dm };
  }

  it('should answer 400 to a send with "attachment": null and no text', async () => {
    const t = await givenThread();
    const res = await app
      .http()
      .post('/instagram-dms/send')
      .set(app.bearer(t.userId))
      .send({ recipient_id: t.customer.igsid, platform_account_id: t.accountId, attachment: null });
    expect(res.status).toBe(400);
  });

  it('should refuse "reaction": null instead of removing the reaction', async () => {
    const t = await givenThread();
    const id = String(t.dm._id);
    const first = await app
      .http()
      .post(`/instagram-dms/${id}/reaction`)
      .set(app.bearer(t.userId))
      .send({ reaction: 'love' })
      .expect(200);
    expect(first.body.data.reactions).toHaveLength(1);

    const res = await app
      .http()
      .post(`/instagram-dms/${id}/reaction`)
      .set(app.bearer(t.userId))
      .send({ reaction: null });
    // Either refused (400) or treated as the default 'love'; never an unreact through POST.
    if (res.status === 200) {
      expect(res.body.data.reactions).toEqual([expect.objectContaining({ reaction: 'love' })]);
    } else {
      expect(res.status).toBe(400);
    }
  });
});
