import type { MetaSimulator } from '../../meta-simulator';
import { HistoryImportService } from '../../src/sync/history-import.service';
import { ReconcileService } from '../../src/sync/reconcile.service';
import type { TestApp } from '../support/e2e';
import { countForAccount, givenTenant, storedAccount } from '../support/factories';
import { eventually } from '../webhook/webhook-helpers';
import { startSyncApp } from './sync-helpers';

/**
 * Work whose Graph call is in flight when the user deletes the account with purge (a history
 * import, the reconciliation job, a send) must not store anything for it afterwards: the DMs the
 * user just purged never come back under the deleted account.
 */
describe('Imports, reconciliation and sends in flight vs account purge (e2e)', () => {
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
    countForAccount(app, collection, accountId);
  const accountDoc = (id: string) => storedAccount(app, id);

  async function accountWithThread() {
    const { biz, userId, account } = await givenTenant(app, meta);
    const { accountId } = account;
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

  it('should not bring back purged DMs when an import thread read was in flight', async () => {
    // Two DMs arrive by webhook and are stored.
    const { biz, userId, accountId } = await accountWithThread();

    // Meta is slow to answer conversation reads for this account.
    meta.fault({ endpoint: 'conversations', latencyMs: 2500, accountIgId: biz.igId });
    const post = await app.http().post(`/accounts/${accountId}/import`).set(app.bearer(userId));
    expect(post.status).toBe(202);
    // The thread read (2nd conversations call: list, then the thread's messages) is in flight.
    await eventually(() =>
      Promise.resolve(
        meta.requests({ endpoint: 'conversations', accountIgId: biz.igId }).length >= 2,
      ),
    );

    await purge(userId, accountId); // the purge did its job...

    // (GET /accounts/:id/import answers 404 once the account is deleted: wait in-process.)
    await app.app.get(HistoryImportService).idle();
    // ...and the import in flight did not write the thread back.
    expect(await count('instagram_dms', accountId)).toBe(0);
    const state = await db()
      .collection('account_sync_state')
      .findOne({ _id: `${accountId}:import` as never });
    expect(state).toMatchObject({ state: 'failed', error_code: 'ACCOUNT_DELETED' });
  });
});
