import type { AddressInfo } from 'node:net';
import { startMetaSimulator, type Customer, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, newUserId, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { waitFor } from '../dms/dms-helpers';

/**
 * POST /instagram-dms/send with an attachment AND a text makes two Send API calls. When the
 * second one fails, the first was delivered and stored, yet the caller only sees an error
 * ("retry later"): the natural retry sends the attachment a second time.
 */
describe('Attachment and text in one send, the text failing (e2e)', () => {
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

  const conversations = () =>
    app.connection.db!.collection<{ _id: string } & Record<string, unknown>>(
      'instagram_conversations',
    );
  const dms = () => app.connection.db!.collection('instagram_dms');

  async function givenThread() {
    const userId = newUserId();
    const biz = meta.createBusiness();
    const account = await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
    });
    const customer: Customer = meta.customer(biz);
    const { mid } = await customer.sends('Hi, can I see the catalogue?');
    const conversationId = `${account.accountId}:${customer.igsid}`;
    await waitFor(() =>
      conversations().findOne({
        _id: conversationId,
        last_inbound_at: { $exists: true },
        'customer.fetched_at': { $exists: true },
      }),
    );
    await waitFor(() => dms().findOne({ message_id: mid }));
    return { userId, biz, customer, accountId: account.accountId };
  }

  it('should say which part went out, so the caller does not send the attachment twice', async () => {
    const t = await givenThread();
    const body = {
      recipient_id: t.customer.igsid,
      platform_account_id: t.accountId,
      attachment: { type: 'image', url: 'https://cdn.example.com/catalogue.png' },
      message_text: 'Here is our catalogue',
    };
    // First Send API call (the attachment) goes through; the second (the text) meets a Meta
    // outage that outlasts igdm's retries.
    meta.fault({ endpoint: 'send', latencyMs: 1, times: 1, accountIgId: t.biz.igId });
    meta.fault({ endpoint: 'send', status5xx: 503, times: 3, accountIgId: t.biz.igId });

    const first = await app.http().post('/instagram-dms/send').set(app.bearer(t.userId)).send(body);
    meta.clearFaults();

    // Not "retry later": the reply says the attachment went out and the text did not.
    expect(first.status).toBe(502);
    expect(first.body.error.code).toBe('PARTIAL_SEND');
    expect(first.body.error.message).toContain('send the text alone');
    const imagesAtMeta = () => meta.sent(t.biz).filter((m) => m.attachments.length > 0).length;
    expect(imagesAtMeta()).toBe(1);
    const storedImages = await dms().countDocuments({
      platform_account_id: t.accountId,
      direction: 'outbound',
      message_type: 'attachment',
    });
    expect(storedImages).toBe(1);

    // The dashboard sends what is missing, the text alone: one image and one text at Meta.
    const rest = await app
      .http()
      .post('/instagram-dms/send')
      .set(app.bearer(t.userId))
      .send({ ...body, attachment: undefined });
    expect(rest.status).toBe(200);
    expect(imagesAtMeta()).toBe(1);
    expect(meta.sent(t.biz).filter((m) => m.text === body.message_text)).toHaveLength(1);
  });
});
