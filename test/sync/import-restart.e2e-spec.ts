import type { MetaSimulator } from '../../meta-simulator';
import { newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { eventually } from '../webhook/webhook-helpers';
import { importFinished, startSyncApp } from './sync-helpers';

describe('History import across a restart (e2e)', () => {
  let first: TestApp;
  let second: TestApp | undefined;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app: first, meta } = await startSyncApp());
  });
  afterAll(async () => {
    await second?.close();
    await meta?.close();
  });

  /** A business whose conversations exist only at Meta (their webhooks never arrived). */
  async function businessWithHistory(threads: number, perThread: number) {
    const biz = meta.createBusiness();
    const quiet = meta.dropDeliveries();
    for (let t = 0; t < threads; t++) {
      const customer = meta.customer(biz);
      for (let m = 0; m < perThread; m++) await customer.sends(`thread ${t} message ${m}`);
    }
    quiet.clear();
    return biz;
  }

  it('should resume an import interrupted by a shutdown at the next start and store each message once', async () => {
    const biz = await businessWithHistory(8, 2);
    const userId = newUserId();
    const { accountId } = await givenAccount(first, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
    });
    const post = await first.http().post(`/accounts/${accountId}/import`).set(first.bearer(userId));
    expect(post.status).toBe(202);
    await eventually(async () => {
      const res = await first.http().get(`/accounts/${accountId}/import`).set(first.bearer(userId));
      return res.body.data.threads_done >= 1;
    });
    await first.app.close(); // stops after the thread in hand; the database survives

    second = (await startSyncApp({ DATABASE_NAME: first.env.DATABASE_NAME }, meta)).app;

    const done = await importFinished(second, userId, accountId);
    expect(done).toMatchObject({
      state: 'done',
      trigger: 'resume',
      threads_done: 8,
      messages_seen: 16,
      messages_stored: 16,
      messages_known: 0,
    });
    const dms = await second.connection
      .db!.collection('instagram_dms')
      .find({ platform_account_id: accountId })
      .toArray();
    expect(dms).toHaveLength(16);
    expect(new Set(dms.map((d) => d.message_id as string)).size).toBe(16);
    console.log(
      `[issue 8 counts] ${JSON.stringify({ restart: { threads: done.threads_done, stored: done.messages_stored, dmsInDb: dms.length, duplicates: 0 } })}`,
    );
  });

  it('should keep a failed import with its retry time and continue it when asked again', async () => {
    const app = second!;
    const biz = await businessWithHistory(2, 1);
    const userId = newUserId();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
    });
    // Meta fails every attempt of the first call (the conversation list).
    meta.fault({ endpoint: 'conversations', status5xx: 503, times: 3, accountIgId: biz.igId });
    await app.http().post(`/accounts/${accountId}/import`).set(app.bearer(userId)).expect(202);
    const failed = await importFinished(app, userId, accountId);
    expect(failed).toMatchObject({ state: 'failed', threads_done: 0 });
    expect(failed.error_code).toMatch(/^META_/);
    const doc = await app.connection
      .db!.collection('account_sync_state')
      .findOne({ _id: `${accountId}:import` as never });
    expect(doc!.retry_at).toBeInstanceOf(Date);

    const health = await app.http().get(`/accounts/${accountId}`).set(app.bearer(userId));
    expect(health.body.data.health.problems).toContain('IMPORT_FAILED');

    await app.http().post(`/accounts/${accountId}/import`).set(app.bearer(userId)).expect(202);
    // The POST answers once the run is claimed, so the state read next is this run's.
    const done = await importFinished(app, userId, accountId);
    expect(done).toMatchObject({ state: 'done', threads_done: 2, messages_stored: 2 });
  });
});
