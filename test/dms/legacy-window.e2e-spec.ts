import type { AddressInfo } from 'node:net';
import { Types } from 'mongoose';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, newUserId, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';

/**
 * igdm is a drop-in successor of the Python service: it starts on that service's database, which
 * has `instagram_dms` but no `instagram_conversations`. A customer who wrote an hour before the
 * switch is inside Meta's 24 h window, yet igdm's window check reads only the conversation.
 */
describe('Replying to a thread the Python service stored (e2e)', () => {
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

  it('should send to a customer whose recent message only the old service stored', async () => {
    const userId = newUserId();
    const biz = meta.createBusiness();
    const account = await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
    });
    const customer = meta.customer(biz);
    // The customer wrote while the Python service was running: igdm never got that webhook.
    const drop = meta.dropDeliveries({ count: 1 });
    const { mid } = await customer.sends('Is the blue hoodie still available?');
    drop.clear();
    const at = new Date(Date.now() - 3600_000);
    // Stored the Python way (see ../shared/reference/reference-db/instagram_dms.json).
    await app.connection.db!.collection('instagram_dms').insertOne({
      _id: new Types.ObjectId(),
      platform_account_id: account.accountId,
      ig_id: biz.igId,
      user_id: userId,
      sender_id: customer.igsid,
      recipient_id: biz.igId,
      timestamp: at.getTime(),
      message_id: mid,
      text: 'Is the blue hoodie still available?',
      is_echo: false,
      raw: { mid, text: 'Is the blue hoodie still available?' },
      created_at: at,
      direction: 'inbound',
      read: false,
      manual_dm: false,
      is_deleted: false,
      updated_at: at,
    });

    const res = await app.http().post('/instagram-dms/send').set(app.bearer(userId)).send({
      recipient_id: customer.igsid,
      platform_account_id: account.accountId,
      message_text: 'Yes, in size M!',
    });
    expect(res.status).toBe(200);
    expect(meta.sent(biz)).toHaveLength(1);
  });
});
