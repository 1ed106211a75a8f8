import type { MetaSimulator } from '../../meta-simulator';
import { HistoryImportService } from '../../src/sync/history-import.service';
import { newUserId, type TestApp } from '../support/e2e';
import { eventually } from '../webhook/webhook-helpers';
import { connectThroughOAuth, startSyncApp } from './sync-helpers';

/**
 * An import stopped by DELETE ?purge=true keeps its progress (failed, ACCOUNT_DELETED, done
 * threads), but the purge deleted what those threads stored. After a reconnect the import must
 * start over, not continue and skip the purged threads.
 */
describe('Import after a purge and a reconnect (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startSyncApp());
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const db = () => app.connection.db!;

  jest.setTimeout(120_000);
  it('should import every thread again after purge + reconnect', async () => {
    const biz = meta.createBusiness();
    const quiet = meta.dropDeliveries();
    const customers = [];
    for (let i = 0; i < 3; i++) {
      const c = meta.customer(biz);
      await c.sends(`thread ${i}`);
      customers.push(c.igsid);
    }
    quiet.clear();
    const userId = newUserId();

    // Connect (import on connect), Meta slow on conversation reads.
    const slow = meta.fault({ endpoint: 'conversations', latencyMs: 1000, accountIgId: biz.igId });
    const accountId = await connectThroughOAuth(app, meta, userId, biz);
    const state = () =>
      db()
        .collection('account_sync_state')
        .findOne({ _id: `${accountId}:import` as never });
    // One thread done, the next one being read.
    await eventually(async () => ((await state())?.threads_done ?? 0) >= 1, 30_000);
    await app
      .http()
      .delete(`/accounts/${accountId}?purge=true`)
      .set(app.bearer(userId))
      .expect(200);
    await app.app.get(HistoryImportService).idle();
    await eventually(async () => {
      const acc = await db()
        .collection('accounts')
        .findOne({ purged_at: { $exists: true }, 'instagram_data.ig_id': biz.igId });
      return !!acc;
    });
    const stopped = await state();
    expect(stopped).toMatchObject({ state: 'failed', error_code: 'ACCOUNT_DELETED' });
    expect(
      await db().collection('instagram_dms').countDocuments({ platform_account_id: accountId }),
    ).toBe(0);

    // The user reconnects: the account is revived (same id) and imported on connect.
    slow.clear();
    const startedAt = new Date();
    const again = await connectThroughOAuth(app, meta, userId, biz);
    expect(again).toBe(accountId);
    const done = await eventually(async () => {
      const s = await state();
      return s && s.state !== 'running' && s.finished_at && new Date(s.finished_at) > startedAt
        ? s
        : null;
    }, 60_000);
    const dms = await db()
      .collection('instagram_dms')
      .find({ platform_account_id: accountId })
      .toArray();
    const threads = new Set(dms.map((d) => d.customer_id as string));
    expect(done.state).toBe('done');
    expect([...threads].sort()).toEqual([...customers].sort());
  });
});
