import { Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Types } from 'mongoose';
import type { MetaSimulator } from '../../meta-simulator';
import { ACCOUNT_CONNECTED, type AccountConnectedEvent } from '../../src/accounts/accounts.types';
import { PROFILE_PARKED } from '../../src/dms/conversations.service';
import type { TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import { eventually, startAppWithSimulator } from './webhook-helpers';

/**
 * Profile reads of an account that cannot make them (it needs re-authorisation, or its owner
 * turned it off) are not retried on a timer: they wait, and resume when the account is repaired.
 * Before, each new message retried at once: hundreds of refused Graph calls and warnings a minute.
 */
describe('enrichment follows the account state (e2e)', () => {
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
  const conversation = (accountId: string, customerId: string) =>
    db()
      .collection('instagram_conversations')
      .findOne({ _id: `${accountId}:${customerId}` as never });
  const setStatus = (accountId: string, status: string) =>
    db()
      .collection('accounts')
      .updateOne({ _id: new Types.ObjectId(accountId) }, { $set: { status } });
  const pendingDeliveries = () => db().collection('webhook_pending').countDocuments({});

  it('should not read profiles for an account that needs re-authorisation, then read them after a reconnect', async () => {
    const { biz, account } = await givenTenant(app, meta);
    await setStatus(account.accountId, 'needs_reauth');
    const customer = meta.customer(biz, { name: 'Parked Customer' });
    const profileReads = () =>
      meta.requests({ endpoint: 'profile' }).filter((r) => r.path.includes(customer.igsid)).length;
    const warnings = jest.spyOn(Logger.prototype, 'warn');

    for (let i = 0; i < 5; i++) await customer.sends(`message ${i} while the token is revoked`);
    await eventually(async () => (await pendingDeliveries()) === 0);
    const parked = await eventually(async () => {
      const conv = await conversation(account.accountId, customer.igsid);
      return conv?.profile_retry_at?.getTime() === PROFILE_PARKED.getTime() ? conv : undefined;
    });

    expect(parked.profile_pending).toBe(true);
    expect(profileReads()).toBe(0);
    expect(warnings.mock.calls.filter((c) => String(c[1]).includes('enrichment failed'))).toEqual(
      [],
    );
    warnings.mockRestore();
    // Stored all the same, just not named yet.
    expect(
      await db().collection('instagram_dms').countDocuments({
        platform_account_id: account.accountId,
        customer_id: customer.igsid,
      }),
    ).toBe(5);

    // The owner reconnects: the account is active again and the waiting profile is read.
    await setStatus(account.accountId, 'active');
    const reconnected: AccountConnectedEvent = {
      accountId: account.accountId,
      userId: account.userId,
      igId: biz.igId,
    };
    await app.app.get(EventEmitter2).emitAsync(ACCOUNT_CONNECTED, reconnected);
    const named = await eventually(async () => {
      const conv = await conversation(account.accountId, customer.igsid);
      return conv?.customer?.name ? conv : undefined;
    });
    expect(named.customer.name).toBe('Parked Customer');
    expect(named.profile_pending).toBe(false);
    expect(profileReads()).toBe(1);
  });

  it('should park profile reads of a disabled account and resume them when it is turned on', async () => {
    const { biz, account } = await givenTenant(app, meta);
    const customer = meta.customer(biz, { name: 'Later Customer' });
    // Stored while the profile could not be read (the account needed re-authorisation then)…
    await setStatus(account.accountId, 'needs_reauth');
    await customer.sends('hello');
    await eventually(async () => {
      const conv = await conversation(account.accountId, customer.igsid);
      return conv?.profile_retry_at?.getTime() === PROFILE_PARKED.getTime();
    });
    await setStatus(account.accountId, 'active');
    // …then the owner turns the account off and on again: the read resumes.
    const patch = (is_active: boolean) =>
      app
        .http()
        .patch(`/user-settings/configs/${account.accountId}`)
        .set(app.bearer(account.userId))
        .send({ is_active })
        .expect(200);
    await patch(false);
    await patch(true);
    const named = await eventually(async () => {
      const conv = await conversation(account.accountId, customer.igsid);
      return conv?.customer?.name ? conv : undefined;
    });
    expect(named.customer.name).toBe('Later Customer');
  });
});
