import { SchedulerRegistry } from '@nestjs/schedule';
import type { MetaSimulator } from '../../meta-simulator';
import { RECONCILE_JOB } from '../../src/sync/reconcile.service';
import type { TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import { eventually } from '../webhook/webhook-helpers';
import { startSyncApp } from './sync-helpers';

describe('Scheduled reconciliation (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startSyncApp({
      SYNC_RECONCILE_ENABLED: 'true',
      SYNC_RECONCILE_INTERVAL_MS: '1000',
      // Long enough for the webhook to store what it delivers; Meta's times are whole seconds.
      SYNC_RECONCILE_GRACE_MS: '1500',
    }));
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  it('should backfill a missed delivery by itself at the configured interval, leaving delivered ones to the webhook', async () => {
    expect(app.app.get(SchedulerRegistry).getInterval(RECONCILE_JOB)).toBeDefined();
    const { biz, userId, account } = await givenTenant(app, meta);
    const { accountId } = account;
    const customer = meta.customer(biz);
    const { mid: delivered } = await customer.sends('this one arrives');
    meta.dropDeliveries({ count: 1 });
    const { mid: missed } = await customer.sends('this one is lost');

    const dms = app.connection.db!.collection('instagram_dms');
    const backfilled = await eventually(
      () => dms.findOne({ message_id: missed, source: 'reconcile' }),
      15_000,
    );
    expect(backfilled).toMatchObject({ platform_account_id: accountId, text: 'this one is lost' });
    expect(await dms.findOne({ message_id: delivered })).toMatchObject({ source: 'webhook' });
    expect(await dms.countDocuments({ platform_account_id: accountId })).toBe(2);

    // The run is recorded when it ends, a moment after it stored the message.
    await eventually(async () => {
      const res = await app.http().get(`/accounts/${accountId}`).set(app.bearer(userId));
      return res.body.data.health.reconciliation.total_stored === 1;
    });
  });
});
