import { mongo } from 'mongoose';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { loadReferenceDump } from '../support/reference-db';
import { givenDm } from './dms-helpers';

describe('GET /instagram-dms/list', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await createTestApp();
  });
  afterAll(async () => {
    await app.close();
  });

  async function tenant() {
    const userId = newUserId();
    const account = await givenAccount(app, {
      userId,
      igId: `1784${Math.floor(Math.random() * 1e12)}`,
      accessToken: 'IGAA_T',
    });
    return { userId, accountId: account.accountId };
  }

  it('should require a bearer token', async () => {
    await app.http().get('/instagram-dms/list').expect(401);
  });

  it('should list only the caller’s DMs, newest first, in the reference envelope', async () => {
    const a = await tenant();
    const b = await tenant();
    const base = Date.now() - 60_000;
    const older = await givenDm(app, {
      platform_account_id: a.accountId,
      created_at: new Date(base),
    });
    const newer = await givenDm(app, {
      platform_account_id: a.accountId,
      created_at: new Date(base + 1000),
    });
    await givenDm(app, { platform_account_id: b.accountId });

    const res = await app.http().get('/instagram-dms/list').set(app.bearer(a.userId)).expect(200);
    expect(res.body).toMatchObject({
      success: true,
      total: 2,
      limit: 50,
      skip: 0,
      next_cursor: null,
    });
    expect(res.body.data.map((d: { _id: string }) => d._id)).toEqual([
      String(newer._id),
      String(older._id),
    ]);
    expect(res.body.data[0]).toMatchObject({
      platform_account_id: a.accountId,
      direction: 'inbound',
      text: newer.text,
    });
  });

  it('should hide soft-deleted and unsent DMs unless include_unsent is set', async () => {
    const a = await tenant();
    await givenDm(app, { platform_account_id: a.accountId, is_deleted: true });
    const unsent = await givenDm(app, { platform_account_id: a.accountId, is_unsent: true });
    await givenDm(app, { platform_account_id: a.accountId });

    const res = await app.http().get('/instagram-dms/list').set(app.bearer(a.userId)).expect(200);
    expect(res.body.total).toBe(1);
    const all = await app
      .http()
      .get('/instagram-dms/list?include_unsent=true')
      .set(app.bearer(a.userId))
      .expect(200);
    expect(all.body.total).toBe(2);
    expect(all.body.data.map((d: { _id: string }) => d._id)).toContain(String(unsent._id));
  });

  it('should apply every filter', async () => {
    const a = await tenant();
    const t0 = Date.now() - 3_600_000;
    const x = await givenDm(app, {
      platform_account_id: a.accountId,
      customer_id: 'c1',
      created_at: new Date(t0),
    });
    const y = await givenDm(app, {
      platform_account_id: a.accountId,
      customer_id: 'c2',
      read: true,
      created_at: new Date(t0 + 10_000),
    });
    const z = await givenDm(app, {
      platform_account_id: a.accountId,
      customer_id: 'c1',
      direction: 'outbound',
      message_type: 'attachment',
      created_at: new Date(t0 + 20_000),
    });
    const ids = async (query: string) => {
      const res = await app
        .http()
        .get(`/instagram-dms/list?${query}`)
        .set(app.bearer(a.userId))
        .expect(200);
      return res.body.data.map((d: { _id: string }) => d._id);
    };
    expect(await ids('customer_id=c1')).toEqual([String(z._id), String(x._id)]);
    expect(await ids('direction=outbound')).toEqual([String(z._id)]);
    expect(await ids('read=true')).toEqual([String(y._id)]);
    expect(await ids('read=false&direction=inbound')).toEqual([String(x._id)]);
    expect(await ids('message_type=attachment')).toEqual([String(z._id)]);
    expect(await ids('sender_id=c2')).toEqual([String(y._id)]);
    expect(await ids('recipient_id=c1')).toEqual([String(z._id)]);
    expect(await ids(`platform_account_id=${a.accountId}&user_id=${a.userId}`)).toHaveLength(3);
    expect(
      await ids(
        `since=${new Date(t0 + 5_000).toISOString()}&until=${new Date(t0 + 15_000).toISOString()}`,
      ),
    ).toEqual([String(y._id)]);
  });

  it('should page with skip and with a keyset cursor without gaps or repeats', async () => {
    const a = await tenant();
    const t0 = Date.now() - 3_600_000;
    const created: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      // Two DMs share each timestamp: the cursor must break ties on _id.
      const dm = await givenDm(app, {
        platform_account_id: a.accountId,
        created_at: new Date(t0 + Math.floor(i / 2) * 1000),
      });
      created.push(String(dm._id));
    }
    const expected = [...created].reverse();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: {
        body: { data: { _id: string }[]; next_cursor: string | null; total: number | null };
      } = await app
        .http()
        .get('/instagram-dms/list')
        .query({ limit: 3, ...(cursor ? { cursor } : {}) })
        .set(app.bearer(a.userId))
        .expect(200);
      // Keyset pages do not count (test/dms/list-total.e2e-spec.ts).
      expect(res.body.total).toBe(cursor ? null : 7);
      seen.push(...res.body.data.map((d) => d._id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(expected);

    const page2 = await app
      .http()
      .get('/instagram-dms/list?limit=3&skip=3')
      .set(app.bearer(a.userId))
      .expect(200);
    expect(page2.body).toMatchObject({ limit: 3, skip: 3, total: 7 });
    expect(page2.body.data.map((d: { _id: string }) => d._id)).toEqual(expected.slice(3, 6));
  });

  it('should answer 403 for a user_id other than the caller’s', async () => {
    const a = await tenant();
    const res = await app
      .http()
      .get('/instagram-dms/list?user_id=someone_else')
      .set(app.bearer(a.userId))
      .expect(403);
    expect(res.body).toMatchObject({ success: false, error: { code: 'FORBIDDEN' } });
  });

  it('should answer 404 for an account of another user, like a missing one', async () => {
    const a = await tenant();
    const b = await tenant();
    const theirs = await app
      .http()
      .get(`/instagram-dms/list?platform_account_id=${b.accountId}`)
      .set(app.bearer(a.userId))
      .expect(404);
    const missing = await app
      .http()
      .get('/instagram-dms/list?platform_account_id=65a000000000000000000000')
      .set(app.bearer(a.userId))
      .expect(404);
    expect(theirs.body).toEqual(missing.body);
  });

  it.each([
    ['limit=101', 'limit'],
    ['limit=0', 'limit'],
    ['skip=-1', 'skip'],
    ['direction=sideways', 'direction'],
    ['read=maybe', 'read'],
    ['platform_account_id=nope', 'platform_account_id'],
    ['since=yesterday', 'since'],
    ['message_type=fax', 'message_type'],
    ['unknown=1', 'unknown'],
  ])('should answer 400 for %s', async (query, field) => {
    const a = await tenant();
    const res = await app
      .http()
      .get(`/instagram-dms/list?${query}`)
      .set(app.bearer(a.userId))
      .expect(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body.error.details)).toContain(field);
  });

  it('should answer 400 for a cursor that was not issued by the API', async () => {
    const a = await tenant();
    const res = await app
      .http()
      .get('/instagram-dms/list?cursor=garbage')
      .set(app.bearer(a.userId))
      .expect(400);
    expect(res.body.error.code).toBe('INVALID_CURSOR');
  });

  describe('on a database written by the Python service', () => {
    beforeAll(async () => {
      const db = app.connection.db!;
      for (const name of ['accounts', 'user_settings', 'instagram_dms']) {
        await db.collection(name).insertMany(loadReferenceDump(name));
      }
    });

    it('should serve the reference documents field for field, soft-deleted hidden, duplicates listed', async () => {
      const res = await app
        .http()
        .get('/instagram-dms/list?platform_account_id=659200000000000000000a01')
        .set(app.bearer('fixture_user_a'))
        .expect(200);
      expect(res.body).toMatchObject({ success: true, total: 5, limit: 50, skip: 0 });

      const expected = loadReferenceDump('instagram_dms')
        .filter(
          (d) => d.platform_account_id === '659200000000000000000a01' && d.is_deleted === false,
        )
        .sort(
          (x, y) =>
            y.created_at.getTime() - x.created_at.getTime() ||
            (String(y._id) < String(x._id) ? -1 : 1),
        )
        .map(
          (d) =>
            JSON.parse(
              mongo.BSON.EJSON.stringify({ ...d, _id: String(d._id) }, { relaxed: true }),
            ) as Record<string, unknown>,
        )
        // Relaxed EJSON writes dates as {$date}; the API writes ISO strings.
        .map((d) =>
          Object.fromEntries(
            Object.entries(d).map(([k, v]) => [
              k,
              v && typeof v === 'object' && '$date' in v
                ? new Date((v as { $date: string }).$date).toISOString()
                : v,
            ]),
          ),
        );
      expect(res.body.data).toEqual(expected);
      const mids = res.body.data.map((d: { message_id: string }) => d.message_id);
      expect(mids.filter((m: string) => m === 'mid.FAKE.A.in.0001')).toHaveLength(2);
      expect(mids).not.toContain('mid.FAKE.A.in.0003');
    });

    it('should not show user A’s reference DMs to user B', async () => {
      await app
        .http()
        .get('/instagram-dms/list?platform_account_id=659200000000000000000a01')
        .set(app.bearer('fixture_user_b'))
        .expect(404);
      const res = await app
        .http()
        .get('/instagram-dms/list')
        .set(app.bearer('fixture_user_b'))
        .expect(200);
      expect(res.body.total).toBe(5);
      expect(
        res.body.data.every(
          (d: { platform_account_id: string }) =>
            d.platform_account_id === '659200000000000000000b01',
        ),
      ).toBe(true);
    });
  });
});
