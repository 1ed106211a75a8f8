import type { MetaSimulator } from '../../meta-simulator';
import type { TestApp } from '../support/e2e';
import { countForAccount, givenTenant, storedAccount } from '../support/factories';
import { deliveriesSettled } from '../support/wait';
import {
  eventually,
  messagingBody,
  newMid,
  postWebhook,
  startAppWithSimulator,
} from './webhook-helpers';

/**
 * The delivery worker caches an entry's route for a second. A delivery processed just after
 * DELETE ?purge=true (Meta retrying a message, or one more sent before the unsubscribe took
 * effect) must not be stored under the deleted account once its purge has finished.
 */
describe('Webhook delivery vs account purge (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startAppWithSimulator());
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const db = () => app.connection.db!;
  const count = (collection: string, accountId: string) =>
    countForAccount(app, collection, accountId);
  const accountDoc = (id: string) => storedAccount(app, id);
  const post = (body: string) => postWebhook(app, body);
  const inbound = (igId: string, customer: string, mid: string, text: string) =>
    messagingBody(igId, [
      {
        sender: { id: customer },
        recipient: { id: igId },
        timestamp: Date.now(),
        message: { mid, text },
      },
    ]);

  it('should not store a DM for an account whose purge just finished', async () => {
    const { biz, userId, account } = await givenTenant(app, meta);
    const { accountId } = account;
    const customer = `9${Date.now()}`;
    const mid = newMid();
    const first = inbound(biz.igId, customer, mid, 'private stuff');
    await post(first).expect(200);
    await eventually(() => db().collection('instagram_dms').findOne({ message_id: mid }));

    await app
      .http()
      .delete(`/accounts/${accountId}?purge=true`)
      .set(app.bearer(userId))
      .expect(200);
    await eventually(async () => !!(await accountDoc(accountId))?.purged_at, 5_000);
    expect(await count('instagram_dms', accountId)).toBe(0);

    // Meta retries the same delivery (our ack was late, say) right after the purge, usually
    // within the second igdm caches an entry's route: the delete must clear that cache.
    await post(first).expect(200);
    await deliveriesSettled(app.connection.db!);

    const dms = await count('instagram_dms', accountId);
    const convs = await count('instagram_conversations', accountId);
    expect({ dms, convs }).toEqual({ dms: 0, convs: 0 });
  });
});
