import { Types } from 'mongoose';
import type { MetaSimulator } from '../../meta-simulator';
import { ReconcileService } from '../../src/sync/reconcile.service';
import { newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { eventually } from '../webhook/webhook-helpers';
import { startSyncApp } from './sync-helpers';

/**
 * The other writers whose Graph call can be in flight across DELETE ?purge=true and
 * that store through DmsIngestService.storeMessage without re-checking the account: the
 * reconciliation job (ThreadSync, no account.deleted listener at all) and POST /instagram-dms/send.
 */
describe('Reconciliation and sends in flight vs account purge (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startSyncApp({ SYNC_IMPORT_ON_CONNECT: 'false' }));
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const db = () => app.connection.db!;
  const count = (collection: string, accountId: string) =>
    db().collection(collection).countDocuments({ platform_account_id: accountId });
  const accountDoc = (id: string) =>
    db()
      .collection('accounts')
      .findOne({ _id: new Types.ObjectId(id) });

  async function accountWithThread() {
    const biz = meta.createBusiness();
    const userId = newUserId();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
    });
    const customer = meta.customer(biz);
    await customer.sends('my address is 1 Main St');
    await customer.sends('and my phone is 555');
    await eventually(async () => (await count('instagram_dms', accountId)) === 2);
    return { biz, userId, accountId, customer };
  }

  async function purge(userId: string, accountId: string) {
    await app
      .http()
      .delete(`/accounts/${accountId}?purge=true`)
      .set(app.bearer(userId))
      .expect(200);
    await eventually(async () => !!(await accountDoc(accountId))?.purged_at);
    expect(await count('instagram_dms', accountId)).toBe(0);
  }

  it('should not bring purged DMs back from a reconciliation in flight', async () => {
    const { biz, userId, accountId } = await accountWithThread();
    meta.fault({ endpoint: 'conversations', latencyMs: 2500, accountIgId: biz.igId });
    const run = app.app
      .get(ReconcileService)
      .reconcileAccount({ accountId, userId, igId: biz.igId, status: 'active' });
    await eventually(() =>
      Promise.resolve(
        meta.requests({ endpoint: 'conversations', accountIgId: biz.igId }).length >= 2,
      ),
    );
    await purge(userId, accountId);
    const result = await run;
    expect(result).toMatchObject({ stored: 0, status: 'failed', error_code: 'ACCOUNT_DELETED' });
    const dms = await count('instagram_dms', accountId);
    const convs = await count('instagram_conversations', accountId);
    expect({ dms, convs }).toEqual({ dms: 0, convs: 0 });
  });

  it('should not leave a DM and a thread under the purged account from a send in flight', async () => {
    const { biz, userId, accountId, customer } = await accountWithThread();
    meta.fault({ endpoint: 'send', latencyMs: 2500, times: 1, accountIgId: biz.igId });
    const sending = app
      .http()
      .post('/instagram-dms/send')
      .set(app.bearer(userId))
      .send({
        recipient_id: customer.igsid,
        message_text: 'on its way',
        platform_account_id: accountId,
      })
      .then((r) => r);
    await eventually(() =>
      Promise.resolve(meta.requests({ endpoint: 'send', accountIgId: biz.igId }).length >= 1),
    );
    await purge(userId, accountId);
    // Sent at Meta, but the account is gone: the reply says so and nothing is stored.
    const res = await sending;
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('ACCOUNT_DELETED');
    const dms = await count('instagram_dms', accountId);
    const convs = await count('instagram_conversations', accountId);
    expect({ dms, convs }).toEqual({ dms: 0, convs: 0 });
  });
});
