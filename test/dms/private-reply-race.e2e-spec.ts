import type { AddressInfo } from 'node:net';
import { startMetaSimulator, type Customer, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, newUserId, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { waitFor } from './dms-helpers';

/** A double click on "reply privately": Meta is called once and the reply stays recorded. */
describe('Concurrent private replies to one comment (e2e)', () => {
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

  const comments = () => app.connection.db!.collection('instagram_comments');

  it('should call Meta once for two concurrent replies and keep the reply recorded', async () => {
    const results: string[] = [];
    for (let round = 0; round < 15; round++) {
      const userId = newUserId();
      const biz = meta.createBusiness();
      const account = await givenAccount(app, {
        userId,
        igId: biz.igId,
        accessToken: biz.accessToken,
      });
      const customer: Customer = meta.customer(biz);
      const { commentId } = await customer.comments(undefined, 'Price?');
      await waitFor(() => comments().findOne({ _id: commentId as never }));
      await new Promise((r) => setTimeout(r, 100));
      const before = meta.requests({ endpoint: 'send', accountIgId: biz.igId }).length;
      const reply = (text: string) =>
        app
          .http()
          .post(`/instagram-dms/comments/${commentId}/reply`)
          .set(app.bearer(userId))
          .send({ platform_account_id: account.accountId, message_text: text });
      const [a, b] = await Promise.all([reply('one'), reply('two')]);
      const calls = meta.requests({ endpoint: 'send', accountIgId: biz.igId }).length - before;
      await new Promise((r) => setTimeout(r, 300));
      const doc = await comments().findOne({ _id: commentId as never });
      results.push(
        `statuses=${a.status},${b.status} metaCalls=${calls} codes=${a.body.error?.code ?? '-'},${b.body.error?.code ?? '-'} private_reply=${JSON.stringify(doc?.private_reply ?? null)}`,
      );
    }
    for (const r of results) expect(r).toMatch(/metaCalls=1 /);
    for (const r of results) expect(r).toMatch(/"status":"sent"/);
  });
});
