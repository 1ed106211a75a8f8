import type { MetaSimulator } from '../../meta-simulator';
import { newUserId, type TestApp } from '../support/e2e';
import { storedAccount } from '../support/factories';
import { eventually } from '../webhook/webhook-helpers';
import { connectThroughOAuth, startSyncApp } from '../sync/sync-helpers';

/**
 * A reconnect (OAuth connect finish) whose Meta calls are in flight when the user deletes the
 * account: DELETE waits for it (both hold the account's connect lock) and then deletes, so the
 * finish's write never brings the deleted account back active, with a token and subscribed.
 */
describe('Reconnect in flight vs DELETE (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startSyncApp({ SYNC_IMPORT_ON_CONNECT: 'false' }));
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const accountDoc = (id: string) => storedAccount(app, id);

  it('should leave the account deleted when DELETE lands while a reconnect talks to Meta', async () => {
    const biz = meta.createBusiness();
    const userId = newUserId();
    const accountId = await connectThroughOAuth(app, meta, userId, biz);

    // Reconnect: Meta is slow to accept the webhook subscription of this account (once).
    meta.fault({ endpoint: 'subscribed_apps', latencyMs: 2500, times: 1, accountIgId: biz.igId });
    const before = meta.requests({ endpoint: 'subscribed_apps', accountIgId: biz.igId }).length;
    const res = await app.http().get('/accounts/instagram/connect').set(app.bearer(userId));
    meta.nextAuthorization({ business: biz });
    const authorize = await fetch(res.body.data.url as string, { redirect: 'manual' });
    const back = new URL(authorize.headers.get('location')!);
    const landing = await app.http().get(`/accounts/instagram/callback${back.search}`);
    const ticket = new URL(landing.headers.location).searchParams.get('connect_ticket');
    // The finish is where the reconnect talks to Meta.
    const finish = app
      .http()
      .post('/accounts/instagram/connect/finish')
      .set(app.bearer(userId))
      .send({ connect_ticket: ticket })
      .then((r) => r);
    await eventually(() =>
      Promise.resolve(
        meta.requests({ endpoint: 'subscribed_apps', accountIgId: biz.igId }).length > before,
      ),
    );

    // The user deletes the account (with purge) meanwhile.
    const del = await app
      .http()
      .delete(`/accounts/${accountId}?purge=true`)
      .set(app.bearer(userId));
    expect(del.status).toBe(200);
    expect((await accountDoc(accountId))!.is_deleted).toBe(true);

    // The delete waited for the reconnect (it holds the account), then deleted it.
    const done = await finish;
    expect(done.status).toBe(200);
    expect(done.body.data.account_id).toBe(accountId);
    const doc = (await accountDoc(accountId))!;
    expect(doc.is_deleted).toBe(true);
    expect(doc.access_token).toBeUndefined();
    const list = await app.http().get('/accounts').set(app.bearer(userId)).expect(200);
    expect((list.body.data as { id: string }[]).map((a) => a.id)).not.toContain(accountId);
  });
});
