import { Types } from 'mongoose';
import type { MetaSimulator } from '../../meta-simulator';
import { newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { eventually } from '../webhook/webhook-helpers';
import { startSyncApp } from './sync-helpers';
import { HistoryImportService } from '../../src/sync/history-import.service';

/**
 * A history import whose thread read (Graph) is in flight while the user deletes the
 * account with purge. The purge finishes first; the import then stores the thread's messages,
 * so the DMs the user just purged are back (under a deleted, "purged" account, never purged again).
 */
describe('History import in flight vs account purge (e2e)', () => {
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
  const dmsOf = (accountId: string) =>
    db().collection('instagram_dms').countDocuments({ platform_account_id: accountId });
  const accountDoc = (id: string) =>
    db()
      .collection('accounts')
      .findOne({ _id: new Types.ObjectId(id) });

  it('should not bring back purged DMs when an import thread read was in flight', async () => {
    const biz = meta.createBusiness();
    const userId = newUserId();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
    });
    // Two DMs arrive by webhook and are stored.
    const customer = meta.customer(biz);
    await customer.sends('hello');
    await customer.sends('are you there?');
    await eventually(async () => (await dmsOf(accountId)) === 2);

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

    await app
      .http()
      .delete(`/accounts/${accountId}?purge=true`)
      .set(app.bearer(userId))
      .expect(200);
    await eventually(async () => !!(await accountDoc(accountId))?.purged_at);
    expect(await dmsOf(accountId)).toBe(0); // purge did its job...

    // (GET /accounts/:id/import answers 404 once the account is deleted: wait in-process.)
    await app.app.get(HistoryImportService).idle();
    // ...and the import in flight did not write the thread back.
    expect(await dmsOf(accountId)).toBe(0);
    const state = await db()
      .collection('account_sync_state')
      .findOne({ _id: `${accountId}:import` as never });
    expect(state).toMatchObject({ state: 'failed', error_code: 'ACCOUNT_DELETED' });
  });
});
