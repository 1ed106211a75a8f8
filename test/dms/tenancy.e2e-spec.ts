import { Types } from 'mongoose';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, newUserId, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import { givenConversation, givenDm, snapshot } from './dms-helpers';

/** User B's token against every route with user A's ids: 404 (or 403), nothing changes, nothing sent. */
describe('route × tenant matrix', () => {
  let meta: MetaSimulator;
  let app: TestApp;
  const a = {
    userId: newUserId(),
    accountId: '',
    dmId: '',
    conversationId: '',
    commentId: '17850000000000001',
    customer: '1990000000000001',
  };
  const b = { userId: newUserId(), accountId: '' };
  const missingDm = new Types.ObjectId().toHexString();
  const missingAccount = new Types.ObjectId().toHexString();

  beforeAll(async () => {
    meta = await startMetaSimulator({ appSecret: TEST_APP_SECRET });
    app = await createTestApp({
      INSTAGRAM_GRAPH_URL: meta.graphUrl,
      INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
    });
    a.accountId = (await givenTenant(app, meta, { userId: a.userId })).account.accountId;
    b.accountId = (await givenTenant(app, meta, { userId: b.userId })).account.accountId;
    a.dmId = String(
      (
        await givenDm(app, {
          platform_account_id: a.accountId,
          customer_id: a.customer,
          user_id: a.userId,
        })
      )._id,
    );
    a.conversationId = await givenConversation(app, a.accountId, a.customer, {
      last_inbound_at: new Date(),
      unread_count: 1,
      user_id: a.userId,
    });
    await app.connection.db!.collection('instagram_comments').insertOne({
      _id: a.commentId as never,
      user_id: a.userId,
      platform_account_id: a.accountId,
      from: { id: a.customer },
      text: 'hello',
      created_at: new Date(),
    });
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  type Call = [
    name: string,
    method: 'get' | 'post' | 'patch' | 'delete',
    path: () => string,
    body: () => object | undefined,
    status: number,
    missingPath: (() => string) | undefined,
  ];
  const calls: Call[] = [
    [
      'list by account',
      'get',
      () => `/instagram-dms/list?platform_account_id=${a.accountId}`,
      () => undefined,
      404,
      () => `/instagram-dms/list?platform_account_id=${missingAccount}`,
    ],
    [
      'list by user_id',
      'get',
      () => `/instagram-dms/list?user_id=${a.userId}`,
      () => undefined,
      403,
      undefined,
    ],
    [
      'conversations by account',
      'get',
      () => `/instagram-dms/conversations?platform_account_id=${a.accountId}`,
      () => undefined,
      404,
      () => `/instagram-dms/conversations?platform_account_id=${missingAccount}`,
    ],
    [
      'stream by account',
      'get',
      () => `/instagram-dms/stream?platform_account_id=${a.accountId}`,
      () => undefined,
      404,
      () => `/instagram-dms/stream?platform_account_id=${missingAccount}`,
    ],
    [
      'patch',
      'patch',
      () => `/instagram-dms/${a.dmId}`,
      () => ({ read: true, text: 'x' }),
      404,
      () => `/instagram-dms/${missingDm}`,
    ],
    [
      'soft delete',
      'delete',
      () => `/instagram-dms/${a.dmId}`,
      () => undefined,
      404,
      () => `/instagram-dms/${missingDm}`,
    ],
    [
      'hard delete',
      'delete',
      () => `/instagram-dms/${a.dmId}?hard=true`,
      () => undefined,
      404,
      () => `/instagram-dms/${missingDm}?hard=true`,
    ],
    [
      'send from A’s account',
      'post',
      () => '/instagram-dms/send',
      () => ({ recipient_id: a.customer, message_text: 'hi', platform_account_id: a.accountId }),
      404,
      undefined,
    ],
    [
      'react',
      'post',
      () => `/instagram-dms/${a.dmId}/reaction`,
      () => ({ reaction: 'love' }),
      404,
      () => `/instagram-dms/${missingDm}/reaction`,
    ],
    [
      'unreact',
      'delete',
      () => `/instagram-dms/${a.dmId}/reaction`,
      () => undefined,
      404,
      () => `/instagram-dms/${missingDm}/reaction`,
    ],
    [
      'typing',
      'post',
      () => `/instagram-dms/conversations/${a.conversationId}/typing`,
      () => ({ on: true }),
      404,
      () => `/instagram-dms/conversations/${missingAccount}:1/typing`,
    ],
    [
      'read',
      'post',
      () => `/instagram-dms/conversations/${a.conversationId}/read`,
      () => undefined,
      404,
      () => `/instagram-dms/conversations/${missingAccount}:1/read`,
    ],
    [
      'comment reply with A’s account',
      'post',
      () => `/instagram-dms/comments/${a.commentId}/reply`,
      () => ({ platform_account_id: a.accountId, message_text: 'hi' }),
      404,
      undefined,
    ],
    [
      'comment reply with B’s account',
      'post',
      () => `/instagram-dms/comments/${a.commentId}/reply`,
      () => ({ platform_account_id: b.accountId, message_text: 'hi' }),
      404,
      () => `/instagram-dms/comments/17850000000009999/reply`,
    ],
    [
      'comment list by account',
      'get',
      () => `/instagram-comments?account_id=${a.accountId}`,
      () => undefined,
      404,
      () => `/instagram-comments?account_id=${missingAccount}`,
    ],
    [
      'comment list by account and media',
      'get',
      () =>
        `/instagram-comments?account_id=${a.accountId}&media_id=18000000000000001&answered=false`,
      () => undefined,
      404,
      () =>
        `/instagram-comments?account_id=${missingAccount}&media_id=18000000000000001&answered=false`,
    ],
    [
      'one comment',
      'get',
      () => `/instagram-comments/${a.commentId}`,
      () => undefined,
      404,
      () => `/instagram-comments/17850000000009999`,
    ],
  ];

  const call = (method: Call[1], path: string, body: object | undefined) => {
    const req = app.http()[method](path).set(app.bearer(b.userId));
    return body === undefined ? req : req.send(body);
  };

  it.each(calls)(
    'should refuse %s with B’s token, change nothing and call Meta never',
    async (_name, method, path, body, status, missingPath) => {
      const before = await snapshot(app);
      const metaCalls = meta.requests().length;
      const res = await call(method, path(), body()).expect(status);
      expect(res.body.success).toBe(false);
      if (missingPath) {
        // "Not yours" and "does not exist" answer the same.
        const missing = await call(method, missingPath(), body());
        expect(missing.status).toBe(status);
        expect(missing.body).toEqual(res.body);
      }
      expect(await snapshot(app)).toBe(before);
      expect(meta.requests().length).toBe(metaCalls);
    },
  );

  it('should not show A’s DMs or threads in B’s unfiltered lists', async () => {
    const list = await app
      .http()
      .get('/instagram-dms/list?include_unsent=true')
      .set(app.bearer(b.userId))
      .expect(200);
    expect(list.body).toMatchObject({ success: true, data: [], total: 0 });
    const convs = await app
      .http()
      .get('/instagram-dms/conversations')
      .set(app.bearer(b.userId))
      .expect(200);
    expect(convs.body).toMatchObject({ success: true, data: [], total: 0 });
    const mine = await app.http().get('/instagram-dms/list').set(app.bearer(a.userId)).expect(200);
    expect(mine.body.total).toBe(1);
  });

  it('should not show A’s comments in B’s unfiltered comment list', async () => {
    const metaCalls = meta.requests().length;
    for (const query of ['', '?answered=false', '?author=1990000000000001', '?kind=mention']) {
      const theirs = await app
        .http()
        .get(`/instagram-comments${query}`)
        .set(app.bearer(b.userId))
        .expect(200);
      expect(theirs.body).toMatchObject({ success: true, data: [], total: 0 });
    }
    const mine = await app.http().get('/instagram-comments').set(app.bearer(a.userId)).expect(200);
    expect(mine.body.data.map((c: { _id: string }) => c._id)).toEqual([a.commentId]);
    expect(meta.requests().length).toBe(metaCalls);
  });

  it('should refuse the comment routes without a token, and call Meta never', async () => {
    const metaCalls = meta.requests().length;
    for (const path of [
      '/instagram-comments',
      `/instagram-comments?account_id=${a.accountId}`,
      `/instagram-comments/${a.commentId}`,
    ]) {
      const res = await app.http().get(path).expect(401);
      expect(res.body).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
    }
    expect(meta.requests().length).toBe(metaCalls);
  });
});
