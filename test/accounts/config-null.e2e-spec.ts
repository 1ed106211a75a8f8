import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';

/** PATCH /user-settings/configs/:account_id with JSON null values. */
describe('PATCH /user-settings/configs/:account_id with nulls (e2e)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => app?.close());

  it('should answer 400 to "is_active": null and does not re-enable a disabled account', async () => {
    const userId = newUserId();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: '17841400000007701',
      accessToken: 'tok',
      enabled: false,
    });
    const before = await app.http().get('/accounts').set(app.bearer(userId)).expect(200);
    expect(before.body.data[0].enabled).toBe(false);

    const res = await app
      .http()
      .patch(`/user-settings/configs/${accountId}`)
      .set(app.bearer(userId))
      .send({ is_active: null });
    const after = await app.http().get('/accounts').set(app.bearer(userId)).expect(200);
    expect({ status: res.status, enabled: after.body.data[0].enabled }).toEqual({
      status: 400,
      enabled: false,
    });
  });

  it('should answer 400 to a body of only nulls (nothing to change)', async () => {
    const userId = newUserId();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: '17841400000007702',
      accessToken: 'tok',
      name: 'Named shop',
    });
    const res = await app
      .http()
      .patch(`/user-settings/configs/${accountId}`)
      .set(app.bearer(userId))
      .send({ config_name: null, is_active: null });
    expect(res.status).toBe(400);
  });
});
