import {
  decodeMid,
  startMetaSimulator,
  type Business,
  type Customer,
  type MetaSimulator,
} from '../../meta-simulator';
import { call, startReceiver, type Receiver } from './helpers';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('Meta simulator Graph API', () => {
  let meta: MetaSimulator;
  let receiver: Receiver;
  let biz: Business;
  let alice: Customer;

  beforeEach(async () => {
    receiver = await startReceiver();
    meta = await startMetaSimulator({
      webhookUrl: receiver.url,
      retryDelaysMs: [],
      limits: { conversationsPerSecond: 0 },
    });
    biz = meta.createBusiness({ username: 'shop_a', name: 'Shop A' });
    alice = meta.customer(biz, { name: 'Alice', username: 'alice' });
  });

  afterEach(async () => {
    await meta.close();
    await receiver.close();
  });

  const send = (body: unknown, token = biz.accessToken, path = `/v24.0/${biz.igId}/messages`) =>
    call(meta, 'POST', path, { token, json: body });
  const text = (t: string, extra: Record<string, unknown> = {}) =>
    send({ recipient: { id: alice.igsid }, message: { text: t }, ...extra });

  it('should answer 190 for unknown, invalidated and expired tokens in Meta’s envelope', async () => {
    const unknown = await call(meta, 'GET', '/v24.0/me', { token: 'IGAAnope' });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toEqual({
      message: 'Invalid OAuth access token - Cannot parse access token',
      type: 'OAuthException',
      code: 190,
      fbtrace_id: expect.any(String),
    });

    const ok = await call(meta, 'GET', '/v24.0/me', { token: biz.accessToken, tokenInQuery: true });
    expect(ok.status).toBe(200);

    meta.advanceClock(61 * DAY);
    const expired = await call(meta, 'GET', '/v24.0/me', { token: biz.accessToken });
    expect(expired.json.error).toMatchObject({ code: 190, error_subcode: 463 });

    const other = meta.createBusiness();
    meta.invalidateToken(other);
    const invalid = await call(meta, 'GET', '/v24.0/me', { token: other.accessToken });
    expect(invalid.json.error).toMatchObject({ code: 190, error_subcode: 467 });

    const none = await call(meta, 'GET', '/v24.0/me');
    expect(none.json.error.code).toBe(104);
  });

  it('should return /me flat with user_id the IG account id and a different app-scoped id', async () => {
    const res = await call(meta, 'GET', '/v24.0/me', {
      token: biz.accessToken,
      query: { fields: 'user_id,username,name,account_type,profile_picture_url' },
    });
    expect(Object.keys(res.json)).toEqual([
      'user_id',
      'username',
      'name',
      'account_type',
      'profile_picture_url',
      'id',
    ]);
    expect(res.json.user_id).toBe(biz.igId);
    expect(res.json.id).toBe(biz.appScopedId);
    expect(res.json.id).not.toBe(res.json.user_id);
    expect(res.text).toContain('https:\\/\\/');
    expect(res.headers.get('facebook-api-version')).toBe('v24.0');
    expect(biz.igId).toMatch(/^1784\d{13}$/);
    expect(biz.accessToken).toMatch(/^IGAA/);
    const bad = await call(meta, 'GET', '/v24.0/me', {
      token: biz.accessToken,
      query: { fields: 'nope' },
    });
    expect(bad.json.error.code).toBe(100);
  });

  it('should refuse to send without the messaging permission (code 10) and to read profiles (200)', async () => {
    await alice.sends('hi');
    meta.setPermissions(biz, ['instagram_business_basic']);
    expect((await text('hello')).json.error.code).toBe(10);
    const profile = await call(meta, 'GET', `/v24.0/${alice.igsid}`, {
      token: biz.accessToken,
      query: { fields: 'name' },
    });
    expect(profile.json.error.code).toBe(200);
  });

  it('should enforce the 24-hour window, and 7 days with HUMAN_AGENT', async () => {
    expect((await text('cold outreach')).json.error).toMatchObject({
      code: 10,
      error_subcode: 2534022,
    });
    await alice.sends('hi');
    expect((await text('reply')).status).toBe(200);

    meta.advanceClock(25 * HOUR);
    const late = await text('late');
    expect(late.json.error).toMatchObject({
      code: 10,
      error_subcode: 2534022,
      message: '(#10) This message is sent outside of allowed window.',
    });
    const tagged = await text('human here', { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    expect(tagged.status).toBe(200);
    expect((await text('x', { tag: 'CONFIRMED_EVENT_UPDATE' })).json.error.code).toBe(100);

    meta.advanceClock(7 * DAY);
    const tooLate = await text('human', { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    expect(tooLate.json.error.error_subcode).toBe(2534022);

    await alice.sends('back again');
    expect((await text('welcome back')).status).toBe(200);
  });

  it('should validate message text length in UTF-8 bytes and message content', async () => {
    await alice.sends('hi');
    expect((await text('é'.repeat(500))).status).toBe(200);
    const long = await text('é'.repeat(501));
    expect(long.json.error.code).toBe(100);
    expect(
      (await send({ recipient: { id: '999' }, message: { text: 'x' } })).json.error,
    ).toMatchObject({
      code: 100,
      error_subcode: 2534014,
    });
    expect((await send({ recipient: { id: alice.igsid }, message: {} })).json.error.code).toBe(100);
  });

  it('should send attachments, likes and replies, with CDN URLs in the echo', async () => {
    const { mid } = await alice.sends('hi');
    const img = await send({
      recipient: { id: alice.igsid },
      message: { attachment: { type: 'image', payload: { url: 'https://example.com/a.png' } } },
    });
    expect(img.status).toBe(200);
    const echo = receiver.received.at(-1)?.json.entry[0].messaging[0].message;
    expect(echo.attachments[0].type).toBe('image');
    expect(echo.attachments[0].payload.url).toMatch(
      /\/cdn\/ig_messaging_cdn\/\?asset_id=\d+&signature=/,
    );
    expect(echo.is_echo).toBe(true);

    const many = await send({
      recipient: { id: alice.igsid },
      message: {
        attachments: [
          { type: 'image', payload: { url: 'https://example.com/1.png' } },
          { type: 'image', payload: { url: 'https://example.com/2.png' } },
        ],
      },
    });
    expect(many.status).toBe(200);
    const heart = await send({
      recipient: { id: alice.igsid },
      message: { attachment: { type: 'like_heart' } },
    });
    expect(heart.status).toBe(200);
    const reply = await send({
      recipient: { id: alice.igsid },
      message: { text: 'this one', reply_to: { mid } },
    });
    expect(reply.status).toBe(200);
    expect(receiver.received.at(-1)?.json.entry[0].messaging[0].message.reply_to).toEqual({ mid });

    // Form bodies with JSON members work too (graph-api.md §1).
    const form = await call(meta, 'POST', `/v24.0/${biz.igId}/messages`, {
      token: biz.accessToken,
      tokenInQuery: true,
      form: {
        recipient: JSON.stringify({ id: alice.igsid }),
        message: JSON.stringify({ text: 'form' }),
      },
    });
    expect(form.status).toBe(200);
  });

  it('should handle sender actions without echo', async () => {
    const { mid } = await alice.sends('hi');
    const before = receiver.received.length;
    for (const action of ['typing_on', 'typing_off', 'mark_seen']) {
      const r = await send({ recipient: { id: alice.igsid }, sender_action: action });
      expect(r.json).toEqual({ recipient_id: alice.igsid });
    }
    const react = await send({
      recipient: { id: alice.igsid },
      sender_action: 'react',
      payload: { message_id: mid, reaction: 'love' },
    });
    expect(react.json).toEqual({ recipient_id: alice.igsid });
    expect(meta.state.messages.get(mid ?? '')?.reactions.business).toBe('love');
    await send({
      recipient: { id: alice.igsid },
      sender_action: 'unreact',
      payload: { message_id: mid },
    });
    expect(meta.state.messages.get(mid ?? '')?.reactions.business).toBeUndefined();
    expect(receiver.received.length).toBe(before);
  });

  it('should allow one private reply per comment and keep the profile behind consent', async () => {
    const { commentId } = await alice.comments('18000000000000101', 'How much is this?');
    expect(commentId).toMatch(/^1789\d{13}$/);
    const profile = await call(meta, 'GET', `/v24.0/${alice.igsid}`, {
      token: biz.accessToken,
      query: { fields: 'name,username' },
    });
    expect(profile.json.error).toMatchObject({
      code: 230,
      message: 'User consent is required to access user profile',
    });

    const first = await send({
      recipient: { comment_id: commentId },
      message: { text: 'Sent you a DM!' },
    });
    expect(first.json).toEqual({ recipient_id: alice.igsid, message_id: expect.any(String) });
    const echo = receiver.received.at(-1)?.json.entry[0].messaging[0];
    expect(echo.message.mid).toBe(first.json.message_id);

    const second = await send({ recipient: { comment_id: commentId }, message: { text: 'again' } });
    expect(second.json.error).toMatchObject({ code: 100, error_subcode: 2534025 });
    // The commenter has not written: a follow-up DM is outside the window.
    expect((await text('follow-up')).json.error.error_subcode).toBe(2534022);

    const old = await alice.comments(undefined, 'old comment');
    meta.advanceClock(8 * DAY);
    const stale = await send({
      recipient: { comment_id: old.commentId },
      message: { text: 'late' },
    });
    expect(stale.json.error.error_subcode).toBe(2534025);
  });

  it('should serve profiles after consent and 100/33 for unknown ids', async () => {
    await alice.sends('hi');
    const res = await call(meta, 'GET', `/v24.0/${alice.igsid}`, {
      token: biz.accessToken,
      query: {
        fields:
          'name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user,is_verified_user',
      },
    });
    expect(res.json).toMatchObject({ name: 'Alice', username: 'alice', id: alice.igsid });
    expect(typeof res.json.follower_count).toBe('number');
    const unknown = await call(meta, 'GET', '/v24.0/1234567890123', {
      token: biz.accessToken,
      query: { fields: 'name' },
    });
    expect(unknown.json.error).toMatchObject({
      code: 100,
      error_subcode: 33,
      type: 'GraphMethodException',
    });
  });

  it('should rate-limit per account with usage headers near 100', async () => {
    meta.setRateLimit(biz, { callsPerWindow: 3, windowMs: 60_000 });
    const me = () => call(meta, 'GET', '/v24.0/me', { token: biz.accessToken });
    const first = await me();
    const usage = JSON.parse(first.headers.get('x-business-use-case-usage') ?? '{}');
    expect(usage[biz.igId][0]).toMatchObject({ type: 'instagram', call_count: 33 });
    expect(JSON.parse(first.headers.get('x-app-usage') ?? '{}')).toHaveProperty('call_count');
    await me();
    await me();
    const limited = await me();
    expect(limited.json.error).toMatchObject({
      code: 613,
      error_subcode: 2534040,
      is_transient: true,
    });
    const after = JSON.parse(limited.headers.get('x-business-use-case-usage') ?? '{}')[biz.igId][0];
    expect(after.call_count).toBeGreaterThanOrEqual(100);
    expect(after.estimated_time_to_regain_access).toBeGreaterThanOrEqual(1);

    meta.setRateLimit(biz, { callsPerWindow: 1, windowMs: 60_000, code: 80002 });
    expect((await me()).json.error.code).toBe(80002);
    meta.setRateLimit(biz, undefined);
    expect((await me()).status).toBe(200);
  });

  it('should look messages up with edits reflected and fresh CDN URLs', async () => {
    const { mid } = await alice.sends('size S please');
    await alice.edits(mid ?? '', 'size M please', { textless: true });
    const edit = receiver.received.at(-1)?.json.entry[0].messaging[0].message_edit;
    expect(edit).toEqual({ mid, num_edit: 0 });
    const res = await call(meta, 'GET', `/v24.0/${mid}`, {
      token: biz.accessToken,
      query: { fields: 'id,created_time,from,to,message' },
    });
    expect(res.json).toEqual({
      id: mid,
      created_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/),
      from: { username: 'alice', id: alice.igsid },
      to: { data: [{ username: 'shop_a', id: biz.igId }] },
      message: 'size M please',
    });
    expect(decodeMid(mid ?? '')).toMatchObject({ businessIgId: biz.igId });
    expect(mid).toMatch(/^aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj/);

    await alice.unsends(mid ?? '');
    const gone = await call(meta, 'GET', `/v24.0/${mid}`, { token: biz.accessToken });
    expect(gone.json.error.code).toBe(100);
  });

  it('should expire CDN URLs and mint a fresh one on a Graph read', async () => {
    const { mid } = await alice.sendsImage();
    const url: string =
      receiver.received[0].json.entry[0].messaging[0].message.attachments[0].payload.url;
    expect((await fetch(url)).status).toBe(200);
    meta.advanceClock(HOUR + 1000);
    expect((await fetch(url)).status).toBe(403);
    const res = await call(meta, 'GET', `/v24.0/${mid}`, {
      token: biz.accessToken,
      query: { fields: 'attachments' },
    });
    const fresh: string = res.json.attachments.data[0].image_data.url;
    expect(fresh).not.toBe(url);
    const img = await fetch(fresh);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect((await fetch(`${meta.url}/cdn/ig_messaging_cdn/?asset_id=1&signature=x.y`)).status).toBe(
      404,
    );
  });

  it('should list conversations with Meta paging and field expansion', async () => {
    const bob = meta.customer(biz, { username: 'bob' });
    const carol = meta.customer(biz, { username: 'carol' });
    await alice.sends('a1');
    await bob.sends('b1');
    const { mid: c1 } = await carol.sends('c1');
    const page1 = await call(meta, 'GET', '/v24.0/me/conversations', {
      token: biz.accessToken,
      query: { platform: 'instagram', limit: '2' },
    });
    expect(page1.json.data).toHaveLength(2);
    expect(Object.keys(page1.json.data[0])).toEqual(['id', 'updated_time']);
    expect(page1.json.data[0].id).toMatch(/^aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6/);
    expect(page1.json.paging.cursors).toEqual({
      before: expect.any(String),
      after: expect.any(String),
    });
    const next = await call(meta, 'GET', page1.json.paging.next);
    expect(next.json.data).toHaveLength(1);
    expect(next.json.paging.next).toBeUndefined();

    const one = await call(meta, 'GET', `/v24.0/${biz.igId}/conversations`, {
      token: biz.accessToken,
      query: { platform: 'instagram', user_id: carol.igsid },
    });
    expect(one.json.data).toHaveLength(1);
    const convId: string = one.json.data[0].id;

    await carol.sends('c2');
    const expanded = await call(meta, 'GET', `/v24.0/${convId}`, {
      token: biz.accessToken,
      query: { fields: 'participants,messages.limit(20){id,created_time,from,to,message}' },
    });
    expect(Object.keys(expanded.json)).toEqual(['participants', 'messages', 'id']);
    expect(expanded.json.participants.data).toEqual([
      { username: 'carol', id: carol.igsid },
      { username: 'shop_a', id: biz.igId },
    ]);
    expect(expanded.json.messages.data.map((m: { message: string }) => m.message)).toEqual([
      'c2',
      'c1',
    ]);
    expect(expanded.json.messages.data[1].id).toBe(c1);

    const plain = await call(meta, 'GET', `/v24.0/${convId}`, {
      token: biz.accessToken,
      query: { fields: 'messages' },
    });
    expect(Object.keys(plain.json.messages.data[0])).toEqual(['id', 'created_time']);

    const appScoped = await call(meta, 'GET', `/v24.0/${biz.appScopedId}/conversations`, {
      token: biz.accessToken,
      query: { platform: 'instagram' },
    });
    expect(appScoped.json).toEqual({ data: [] });
  });

  it('should only detail the 20 most recent messages of a conversation', async () => {
    const first = await alice.sends('m0', { wait: 'none' });
    for (let i = 1; i <= 20; i++) await alice.sends(`m${i}`, { wait: 'none' });
    const old = await call(meta, 'GET', `/v24.0/${first.mid}`, { token: biz.accessToken });
    expect(old.json.error.code).toBe(100);
    const convs = await call(meta, 'GET', '/v24.0/me/conversations', {
      token: biz.accessToken,
      query: { fields: 'messages.limit(25){id,message}' },
    });
    const data = convs.json.data[0].messages.data;
    expect(data).toHaveLength(21);
    expect(data[19].message).toBe('m1');
    expect(data[20]).toEqual({ id: first.mid });
  });

  it('should limit the Conversations API to 2 calls per second per account', async () => {
    const strict = await startMetaSimulator();
    try {
      const b = strict.createBusiness();
      const get = () =>
        call(strict, 'GET', '/v24.0/me/conversations', {
          token: b.accessToken,
          query: { platform: 'instagram' },
        });
      expect((await get()).status).toBe(200);
      expect((await get()).status).toBe(200);
      expect((await get()).json.error).toMatchObject({ code: 613, error_subcode: 2534040 });
    } finally {
      await strict.close();
    }
  });

  it('should drop fields not enabled on the app while subscribed_apps still reports success', async () => {
    meta.setAppFields(['messages', 'comments']);
    const path = `/v24.0/${biz.igId}/subscribed_apps`;
    const post = await call(meta, 'POST', path, {
      token: biz.accessToken,
      query: { subscribed_fields: 'messages,message_reactions,comments' },
    });
    expect(post.json).toEqual({ success: true });
    const get = await call(meta, 'GET', path, { token: biz.accessToken });
    expect(get.json).toEqual({
      data: [{ id: meta.clientId, subscribed_fields: ['messages', 'comments'] }],
    });
    const invalid = await call(meta, 'POST', path, {
      token: biz.accessToken,
      query: { subscribed_fields: 'messages,bogus' },
    });
    expect(invalid.json.error.message).toMatch(/subscribed_fields\[1\] must be one of/);
    expect((await call(meta, 'DELETE', path, { token: biz.accessToken })).json).toEqual({
      success: true,
    });
    expect((await call(meta, 'GET', path, { token: biz.accessToken })).json).toEqual({ data: [] });
  });

  it('should record every request with its parsed body and reply', async () => {
    await alice.sends('hi');
    await text('hello');
    const [r] = meta.requests({ endpoint: 'send' });
    expect(r).toMatchObject({
      method: 'POST',
      path: `/graph/v24.0/${biz.igId}/messages`,
      accountIgId: biz.igId,
      status: 200,
      body: { recipient: { id: alice.igsid }, message: { text: 'hello' } },
      response: { recipient_id: alice.igsid },
    });
    expect(r.headers.authorization).toBe(`Bearer ${biz.accessToken}`);
  });
});
