import { Types } from 'mongoose';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { givenConversation, givenDm } from './dms-helpers';

describe('PATCH and DELETE /instagram-dms/:id', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const dms = () => app.connection.db!.collection('instagram_dms');
  const conversations = () =>
    app.connection.db!.collection<{ _id: string } & Record<string, unknown>>(
      'instagram_conversations',
    );

  async function tenant() {
    const userId = newUserId();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: `1784${Math.floor(Math.random() * 1e12)}`,
      accessToken: 'IGAA_T',
    });
    return { userId, accountId };
  }

  describe('PATCH /instagram-dms/:id', () => {
    it('should update text and read and answer the updated document', async () => {
      const a = await tenant();
      const dm = await givenDm(app, { platform_account_id: a.accountId });
      const res = await app
        .http()
        .patch(`/instagram-dms/${String(dm._id)}`)
        .set(app.bearer(a.userId))
        .send({ text: 'fixed', read: true })
        .expect(200);
      expect(res.body).toEqual({
        success: true,
        data: expect.objectContaining({ _id: String(dm._id), text: 'fixed', read: true }),
      });
      expect(new Date(res.body.data.updated_at).getTime()).toBeGreaterThanOrEqual(
        (dm.updated_at as Date).getTime(),
      );
      expect(await dms().findOne({ _id: dm._id })).toMatchObject({ text: 'fixed', read: true });
    });

    it('should recount the thread’s unread_count when an inbound DM is marked read', async () => {
      const a = await tenant();
      const dm = await givenDm(app, { platform_account_id: a.accountId, customer_id: 'cust1' });
      await givenDm(app, { platform_account_id: a.accountId, customer_id: 'cust1' });
      const convId = await givenConversation(app, a.accountId, 'cust1', { unread_count: 2 });
      await app
        .http()
        .patch(`/instagram-dms/${String(dm._id)}`)
        .set(app.bearer(a.userId))
        .send({ read: true })
        .expect(200);
      expect((await conversations().findOne({ _id: convId }))!.unread_count).toBe(1);
    });

    it('should answer 400 "Invalid DM ID" for an invalid id and 400 for an empty body', async () => {
      const a = await tenant();
      const bad = await app
        .http()
        .patch('/instagram-dms/not-an-id')
        .set(app.bearer(a.userId))
        .send({ read: true })
        .expect(400);
      expect(bad.body).toMatchObject({
        success: false,
        error: { code: 'INVALID_ID', message: 'Invalid DM ID' },
        detail: 'Invalid DM ID',
      });
      const dm = await givenDm(app, { platform_account_id: a.accountId });
      const empty = await app
        .http()
        .patch(`/instagram-dms/${String(dm._id)}`)
        .set(app.bearer(a.userId))
        .send({})
        .expect(400);
      expect(empty.body.detail).toBe('No update fields provided');
      await app
        .http()
        .patch(`/instagram-dms/${String(dm._id)}`)
        .set(app.bearer(a.userId))
        .send({ read: 'yes' })
        .expect(400);
      await app
        .http()
        .patch(`/instagram-dms/${String(dm._id)}`)
        .set(app.bearer(a.userId))
        .send({ user_id: 'x' })
        .expect(400);
    });

    it('should answer 404 for a missing DM', async () => {
      const a = await tenant();
      const res = await app
        .http()
        .patch(`/instagram-dms/${new Types.ObjectId().toHexString()}`)
        .set(app.bearer(a.userId))
        .send({ read: true })
        .expect(404);
      expect(res.body.error.code).toBe('DM_NOT_FOUND');
    });
  });

  describe('DELETE /instagram-dms/:id', () => {
    it('should soft-delete by default with the reference reply, and hide it from the list', async () => {
      const a = await tenant();
      const dm = await givenDm(app, { platform_account_id: a.accountId });
      const res = await app
        .http()
        .delete(`/instagram-dms/${String(dm._id)}`)
        .set(app.bearer(a.userId))
        .expect(200);
      expect(res.body).toEqual({ success: true, deleted: false, soft_deleted: true });
      expect(await dms().findOne({ _id: dm._id })).toMatchObject({ is_deleted: true });
      const list = await app
        .http()
        .get('/instagram-dms/list')
        .set(app.bearer(a.userId))
        .expect(200);
      expect(list.body.total).toBe(0);
    });

    it('should hard-delete with ?hard=true', async () => {
      const a = await tenant();
      const dm = await givenDm(app, { platform_account_id: a.accountId, customer_id: 'c9' });
      const convId = await givenConversation(app, a.accountId, 'c9', { unread_count: 1 });
      const res = await app
        .http()
        .delete(`/instagram-dms/${String(dm._id)}?hard=true`)
        .set(app.bearer(a.userId))
        .expect(200);
      expect(res.body).toEqual({ success: true, deleted: true });
      expect(await dms().findOne({ _id: dm._id })).toBeNull();
      expect((await conversations().findOne({ _id: convId }))!.unread_count).toBe(0);
      await app
        .http()
        .delete(`/instagram-dms/${String(dm._id)}?hard=true`)
        .set(app.bearer(a.userId))
        .expect(404);
    });

    it('should answer 400 for an invalid id or hard value', async () => {
      const a = await tenant();
      const res = await app
        .http()
        .delete('/instagram-dms/123')
        .set(app.bearer(a.userId))
        .expect(400);
      expect(res.body.detail).toBe('Invalid DM ID');
      const dm = await givenDm(app, { platform_account_id: a.accountId });
      await app
        .http()
        .delete(`/instagram-dms/${String(dm._id)}?hard=perhaps`)
        .set(app.bearer(a.userId))
        .expect(400);
    });
  });
});
