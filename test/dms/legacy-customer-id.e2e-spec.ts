import { LegacyCustomerIdService } from '../../src/dms/legacy-customer-id.service';
import { givenDm } from './dms-helpers';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';

/**
 * DMs the Python service wrote carry no customer_id; the start-up backfill gives them one, so the
 * one-conversation list (`?customer_id=`) shows their history too.
 */
describe('Legacy DMs in the one-conversation list (e2e)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => app?.close());

  it('should list legacy inbound and outbound DMs under their customer once the backfill ran', async () => {
    const userId = newUserId();
    const igId = `1784140${Date.now() % 1e10}`;
    const customer = `9${Date.now()}`;
    const { accountId } = await givenAccount(app, { userId, igId, accessToken: 'tok' });
    const inbound = await givenDm(app, {
      platform_account_id: accountId,
      sender_id: customer,
      recipient_id: igId,
      text: 'legacy hello',
    });
    const outbound = await givenDm(app, {
      platform_account_id: accountId,
      direction: 'outbound',
      sender_id: igId,
      recipient_id: customer,
      text: 'legacy reply',
    });
    const dms = app.connection.db!.collection('instagram_dms');
    // As the Python service left them.
    await dms.updateMany(
      { _id: { $in: [inbound._id, outbound._id] } },
      { $unset: { customer_id: '' } },
    );
    const thread = () =>
      app
        .http()
        .get(`/instagram-dms/list?customer_id=${customer}`)
        .set(app.bearer(userId))
        .expect(200);
    expect((await thread()).body.data).toEqual([]);

    const filled = await app.app.get(LegacyCustomerIdService).backfill({ force: true });

    expect(filled).toBeGreaterThanOrEqual(2);
    const texts = (await thread()).body.data.map((d: { text: string }) => d.text);
    expect(texts.sort()).toEqual(['legacy hello', 'legacy reply']);
    expect(await app.app.get(LegacyCustomerIdService).backfill({ force: true })).toBe(0);
  });
});
