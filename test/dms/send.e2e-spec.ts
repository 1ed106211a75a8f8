import type { AddressInfo } from 'node:net';
import { Types } from 'mongoose';
import { startMetaSimulator, type Customer, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, newUserId, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenAccount, givenTenant } from '../support/factories';
import { givenConversation } from './dms-helpers';
import { deliveriesSettled, eventually } from '../support/wait';

const DAY = 24 * 3600 * 1000;

describe('sending: POST /instagram-dms/send, reactions, typing, read, comments', () => {
  let meta: MetaSimulator;
  let app: TestApp;

  beforeAll(async () => {
    meta = await startMetaSimulator({ appSecret: TEST_APP_SECRET });
    app = await createTestApp({
      INSTAGRAM_GRAPH_URL: meta.graphUrl,
      INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
    });
    await app.app.listen(0);
    const { port } = app.app.getHttpServer().address() as AddressInfo;
    meta.setWebhookUrl(`http://127.0.0.1:${port}/webhook/instagram`);
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const conversations = () =>
    app.connection.db!.collection<{ _id: string } & Record<string, unknown>>(
      'instagram_conversations',
    );
  const dms = () => app.connection.db!.collection('instagram_dms');
  const sendCalls = () => meta.requests({ endpoint: 'send' }).length;
  const commentsCollection = () => app.connection.db!.collection('instagram_comments');

  /** A business connected in igdm, and a customer who wrote to it through the webhook. */
  async function givenThread() {
    const { biz, userId, account } = await givenTenant(app, meta);
    const customer: Customer = meta.customer(biz);
    const { mid } = await customer.sends('Hi, is this in stock?');
    const conversationId = `${account.accountId}:${customer.igsid}`;
    // Wait for the whole profile enrichment: tests below rewrite the thread directly, and a
    // concurrent write by the worker would replace the whole document on FerretDB. The name
    // fill is its last step: it empties the thread's unnamed list, then names the DM.
    await eventually(() =>
      conversations().findOne({
        _id: conversationId,
        last_inbound_at: { $exists: true },
        'customer.fetched_at': { $exists: true },
        unnamed_dm_ids: { $exists: false },
      }),
    );
    const inbound = await eventually(() =>
      dms().findOne({ message_id: mid, sender_name: { $exists: true, $ne: null } }),
    );
    return {
      userId,
      biz,
      customer,
      accountId: account.accountId,
      conversationId,
      inbound,
      mid: mid!,
    };
  }

  const send = (userId: string, body: Record<string, unknown>) =>
    app.http().post('/instagram-dms/send').set(app.bearer(userId)).send(body);

  describe('POST /instagram-dms/send', () => {
    it('should send within the window and store one outbound document, merged with its echo', async () => {
      const t = await givenThread();
      const res = await send(t.userId, {
        recipient_id: t.customer.igsid,
        message_text: 'Yes, ships today ✈️',
        platform_account_id: t.accountId,
      }).expect(200);

      expect(res.body).toMatchObject({
        success: true,
        result: { recipient_id: t.customer.igsid, message_id: expect.any(String) },
        stored: {
          _id: expect.stringMatching(/^[0-9a-f]{24}$/),
          platform_account_id: t.accountId,
          user_id: t.userId,
          sender_id: t.biz.igId,
          recipient_id: t.customer.igsid,
          text: 'Yes, ships today ✈️',
          direction: 'outbound',
          manual_dm: true,
          source: 'send',
        },
      });
      const mid = res.body.result.message_id as string;
      expect(meta.sent(t.biz).map((m) => m.mid)).toContain(mid);
      // The simulator posts the echo before answering: wait until it is delivered, then one document.
      await eventually(() =>
        Promise.resolve(
          meta.deliveries({ kind: 'echo' }).some((d) => d.delivered && d.body.includes(mid)),
        ),
      );
      await deliveriesSettled(app.connection.db!);
      const copies = await dms().find({ message_id: mid }).toArray();
      expect(copies).toHaveLength(1);
      expect(copies[0]).toMatchObject({
        manual_dm: true,
        user_id: t.userId,
        direction: 'outbound',
      });
    });

    it('should send an attachment and a reply to a message', async () => {
      const t = await givenThread();
      const res = await send(t.userId, {
        recipient_id: t.customer.igsid,
        platform_account_id: t.accountId,
        attachment: { type: 'image', url: 'https://cdn.example.com/catalogue.png' },
        reply_to: t.mid,
      }).expect(200);
      expect(res.body.stored).toMatchObject({
        message_type: 'attachment',
        text: null,
        reply_to: { mid: t.mid },
      });
      const body = meta.requests({ endpoint: 'send' }).at(-1)!.body as {
        message: Record<string, unknown>;
      };
      expect(body.message).toMatchObject({
        attachment: { type: 'image', payload: { url: 'https://cdn.example.com/catalogue.png' } },
        reply_to: { mid: t.mid },
      });
    });

    it('should refuse outside the 24-hour window before calling Meta, and say HUMAN_AGENT allows 7 days', async () => {
      const t = await givenThread();
      const last = new Date(Date.now() - 2 * DAY);
      await conversations().updateOne(
        { _id: t.conversationId },
        { $set: { last_inbound_at: last } },
      );
      const before = sendCalls();
      const res = await send(t.userId, {
        recipient_id: t.customer.igsid,
        message_text: 'late',
        platform_account_id: t.accountId,
      }).expect(422);
      expect(res.body.error.code).toBe('WINDOW_CLOSED');
      expect(res.body.error.message).toContain(new Date(last.getTime() + DAY).toISOString());
      expect(res.body.error.message).toContain('HUMAN_AGENT');
      expect(res.body.error.message).toContain('7 days');
      expect(sendCalls()).toBe(before);
    });

    it('should send with tag HUMAN_AGENT up to 7 days after the last inbound message', async () => {
      const t = await givenThread();
      await conversations().updateOne(
        { _id: t.conversationId },
        { $set: { last_inbound_at: new Date(Date.now() - 3 * DAY) } },
      );
      const sent = await send(t.userId, {
        recipient_id: t.customer.igsid,
        message_text: 'agent here',
        platform_account_id: t.accountId,
        tag: 'HUMAN_AGENT',
      }).expect(200);
      // Let ingest finish with the echo (it re-records the thread) before moving the window again.
      await eventually(() =>
        dms().findOne({ message_id: sent.body.result.message_id, is_echo: true }),
      );
      await deliveriesSettled(app.connection.db!);
      const body = meta.requests({ endpoint: 'send' }).at(-1)!.body as Record<string, unknown>;
      expect(body).toMatchObject({ tag: 'HUMAN_AGENT', messaging_type: 'MESSAGE_TAG' });

      await conversations().updateOne(
        { _id: t.conversationId },
        { $set: { last_inbound_at: new Date(Date.now() - 8 * DAY) } },
      );
      const before = sendCalls();
      const res = await send(t.userId, {
        recipient_id: t.customer.igsid,
        message_text: 'too late',
        platform_account_id: t.accountId,
        tag: 'HUMAN_AGENT',
      }).expect(422);
      expect(res.body.error.code).toBe('WINDOW_CLOSED');
      expect(sendCalls()).toBe(before);
    });

    it('should refuse a customer who never wrote with 422', async () => {
      const t = await givenThread();
      const res = await send(t.userId, {
        recipient_id: '1234567890123456',
        message_text: 'hi',
        platform_account_id: t.accountId,
      }).expect(422);
      expect(res.body.error.code).toBe('WINDOW_CLOSED');
    });

    it('should count the 1000-byte limit in UTF-8 bytes, not characters', async () => {
      const t = await givenThread();
      const before = sendCalls();
      const res = await send(t.userId, {
        recipient_id: t.customer.igsid,
        message_text: '€'.repeat(334),
        platform_account_id: t.accountId,
      }).expect(400);
      expect(res.body.error.code).toBe('TEXT_TOO_LONG');
      expect(sendCalls()).toBe(before);
      await send(t.userId, {
        recipient_id: t.customer.igsid,
        message_text: '€'.repeat(333),
        platform_account_id: t.accountId,
      }).expect(200);
    });

    it.each([
      [{ attachment: { type: 'image', url: 'http://cdn.example.com/a.png' } }, 'attachment.url'],
      [{ attachment: { type: 'image', url: 'not a url' } }, 'attachment.url'],
      [
        { attachment: { type: 'sticker', url: 'https://cdn.example.com/a.png' } },
        'attachment.type',
      ],
      [{ message_text: '' }, 'message_text'],
      [{ message_text: ' \n\t ' }, 'message_text'],
      [{ message_text: 'x', tag: 'CONFIRMED_EVENT_UPDATE' }, 'tag'],
      [{ message_text: 'x', platform_account_id: 'abc' }, 'platform_account_id'],
      [{ message_text: 'x', extra: 1 }, 'extra'],
      [{}, 'message_text'],
    ])('should answer 400 for %j', async (patch, field) => {
      const t = await givenThread();
      const before = sendCalls();
      const res = await send(t.userId, {
        recipient_id: t.customer.igsid,
        platform_account_id: t.accountId,
        ...patch,
      }).expect(400);
      expect(JSON.stringify(res.body.error.details)).toContain(field);
      expect(sendCalls()).toBe(before);
    });

    it('should answer 404 for another user’s account and 409 for a disabled one', async () => {
      const t = await givenThread();
      const other = newUserId();
      const res = await send(other, {
        recipient_id: t.customer.igsid,
        message_text: 'hi',
        platform_account_id: t.accountId,
      }).expect(404);
      expect(res.body.error.code).toBe('ACCOUNT_NOT_FOUND');
      // A disabled account ingests nothing: its thread is written directly.
      const { userId, account: acct } = await givenTenant(app, meta, { enabled: false });
      await givenConversation(app, acct.accountId, t.customer.igsid, {
        last_inbound_at: new Date(),
      });
      const before = sendCalls();
      const disabled = await send(userId, {
        recipient_id: t.customer.igsid,
        message_text: 'hi',
        platform_account_id: acct.accountId,
      }).expect(409);
      expect(sendCalls()).toBe(before);
      expect(disabled.body.error.code).toBe('ACCOUNT_DISABLED');
    });

    it('should pass on Meta’s mapped errors and say when the outcome is unknown', async () => {
      const t = await givenThread();
      const fault = meta.fault({
        endpoint: 'send',
        metaError: { code: 1, subcode: 1357046, message: 'An unknown error occurred' },
        times: 3,
      });
      const res = await send(t.userId, {
        recipient_id: t.customer.igsid,
        message_text: 'hi',
        platform_account_id: t.accountId,
      });
      fault.clear();
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('SEND_OUTCOME_UNKNOWN');
      expect(res.body.error.message).toMatch(/may have been delivered/);
    });

    it('should say which part went out, so the caller does not send the attachment twice', async () => {
      const t = await givenThread();
      const body = {
        recipient_id: t.customer.igsid,
        platform_account_id: t.accountId,
        attachment: { type: 'image', url: 'https://cdn.example.com/catalogue.png' },
        message_text: 'Here is our catalogue',
      };
      // First Send API call (the attachment) goes through; the second (the text) meets a Meta
      // outage that outlasts igdm's retries.
      meta.fault({ endpoint: 'send', latencyMs: 1, times: 1, accountIgId: t.biz.igId });
      meta.fault({ endpoint: 'send', status5xx: 503, times: 3, accountIgId: t.biz.igId });

      const first = await app
        .http()
        .post('/instagram-dms/send')
        .set(app.bearer(t.userId))
        .send(body);
      meta.clearFaults();

      // Not "retry later": the reply says the attachment went out and the text did not.
      expect(first.status).toBe(502);
      expect(first.body.error.code).toBe('PARTIAL_SEND');
      expect(first.body.error.message).toContain('send the text alone');
      const imagesAtMeta = () => meta.sent(t.biz).filter((m) => m.attachments.length > 0).length;
      expect(imagesAtMeta()).toBe(1);
      const storedImages = await dms().countDocuments({
        platform_account_id: t.accountId,
        direction: 'outbound',
        message_type: 'attachment',
      });
      expect(storedImages).toBe(1);

      // The dashboard sends what is missing, the text alone: one image and one text at Meta.
      const rest = await app
        .http()
        .post('/instagram-dms/send')
        .set(app.bearer(t.userId))
        .send({ ...body, attachment: undefined });
      expect(rest.status).toBe(200);
      expect(imagesAtMeta()).toBe(1);
      expect(meta.sent(t.biz).filter((m) => m.text === body.message_text)).toHaveLength(1);
    });

    it('should answer 400 to a send with "attachment": null and no text', async () => {
      const t = await givenThread();
      const res = await app.http().post('/instagram-dms/send').set(app.bearer(t.userId)).send({
        recipient_id: t.customer.igsid,
        platform_account_id: t.accountId,
        attachment: null,
      });
      expect(res.status).toBe(400);
    });

    it('should send to a customer whose recent message only the old service stored', async () => {
      const { biz, userId, account } = await givenTenant(app, meta);
      const customer = meta.customer(biz);
      // The customer wrote while the Python service was running: igdm never got that webhook.
      const drop = meta.dropDeliveries({ count: 1 });
      const { mid } = await customer.sends('Is the blue hoodie still available?');
      drop.clear();
      const at = new Date(Date.now() - 3600_000);
      // Stored the Python way (see test/fixtures/reference/reference-db/instagram_dms.json).
      await app.connection.db!.collection('instagram_dms').insertOne({
        _id: new Types.ObjectId(),
        platform_account_id: account.accountId,
        ig_id: biz.igId,
        user_id: userId,
        sender_id: customer.igsid,
        recipient_id: biz.igId,
        timestamp: at.getTime(),
        message_id: mid,
        text: 'Is the blue hoodie still available?',
        is_echo: false,
        raw: { mid, text: 'Is the blue hoodie still available?' },
        created_at: at,
        direction: 'inbound',
        read: false,
        manual_dm: false,
        is_deleted: false,
        updated_at: at,
      });

      const res = await app.http().post('/instagram-dms/send').set(app.bearer(userId)).send({
        recipient_id: customer.igsid,
        platform_account_id: account.accountId,
        message_text: 'Yes, in size M!',
      });
      expect(res.status).toBe(200);
      expect(meta.sent(biz)).toHaveLength(1);
    });
  });

  describe('reactions, typing and read', () => {
    it('should react to an inbound DM and remove the reaction', async () => {
      const t = await givenThread();
      const id = String(t.inbound._id);
      const res = await app
        .http()
        .post(`/instagram-dms/${id}/reaction`)
        .set(app.bearer(t.userId))
        .send({ reaction: 'love' })
        .expect(200);
      expect(res.body.data.reactions).toEqual([
        expect.objectContaining({ sender_id: t.biz.igId, reaction: 'love' }),
      ]);
      expect(meta.state.messages.get(t.mid)!.reactions.business).toBe('love');

      const del = await app
        .http()
        .delete(`/instagram-dms/${id}/reaction`)
        .set(app.bearer(t.userId))
        .expect(200);
      expect(del.body.data.reactions).toEqual([]);
      expect(meta.state.messages.get(t.mid)!.reactions.business).toBeUndefined();
    });

    it('should send typing indicators', async () => {
      const t = await givenThread();
      await app
        .http()
        .post(`/instagram-dms/conversations/${t.conversationId}/typing`)
        .set(app.bearer(t.userId))
        .send({ on: true })
        .expect(200);
      await app
        .http()
        .post(`/instagram-dms/conversations/${t.conversationId}/typing`)
        .set(app.bearer(t.userId))
        .send({ on: false })
        .expect(200);
      const actions = meta
        .requests({ endpoint: 'send' })
        .map((r) => (r.body as { sender_action?: string }).sender_action);
      expect(actions.slice(-2)).toEqual(['typing_on', 'typing_off']);
      await app
        .http()
        .post(`/instagram-dms/conversations/${t.conversationId}/typing`)
        .set(app.bearer(t.userId))
        .send({})
        .expect(400);
    });

    it('should mark every inbound DM of the thread read, zero the unread count and send mark_seen', async () => {
      const t = await givenThread();
      await t.customer.sends('second message');
      await eventually(
        async () =>
          (await dms().countDocuments({
            platform_account_id: t.accountId,
            direction: 'inbound',
          })) === 2,
      );
      const res = await app
        .http()
        .post(`/instagram-dms/conversations/${t.conversationId}/read`)
        .set(app.bearer(t.userId))
        .expect(200);
      expect(res.body).toMatchObject({
        success: true,
        marked: 2,
        unread_count: 0,
        mark_seen: true,
      });
      expect(
        await dms().countDocuments({
          platform_account_id: t.accountId,
          direction: 'inbound',
          read: false,
        }),
      ).toBe(0);
      expect((await conversations().findOne({ _id: t.conversationId }))!.unread_count).toBe(0);
      expect(
        (meta.requests({ endpoint: 'send' }).at(-1)!.body as { sender_action?: string })
          .sender_action,
      ).toBe('mark_seen');
    });

    it('should keep unread_count right when PATCH marks an inbound DM read', async () => {
      const t = await givenThread();
      expect((await conversations().findOne({ _id: t.conversationId }))!.unread_count).toBe(1);
      await app
        .http()
        .patch(`/instagram-dms/${String(t.inbound._id)}`)
        .set(app.bearer(t.userId))
        .send({ read: true })
        .expect(200);
      expect((await conversations().findOne({ _id: t.conversationId }))!.unread_count).toBe(0);
      await app
        .http()
        .patch(`/instagram-dms/${String(t.inbound._id)}`)
        .set(app.bearer(t.userId))
        .send({ read: false })
        .expect(200);
      expect((await conversations().findOne({ _id: t.conversationId }))!.unread_count).toBe(1);
    });

    it('should refuse "reaction": null instead of removing the reaction', async () => {
      const t = await givenThread();
      const id = String(t.inbound._id);
      const first = await app
        .http()
        .post(`/instagram-dms/${id}/reaction`)
        .set(app.bearer(t.userId))
        .send({ reaction: 'love' })
        .expect(200);
      expect(first.body.data.reactions).toHaveLength(1);

      const res = await app
        .http()
        .post(`/instagram-dms/${id}/reaction`)
        .set(app.bearer(t.userId))
        .send({ reaction: null });
      // Either refused (400) or treated as the default 'love'; never an unreact through POST.
      if (res.status === 200) {
        expect(res.body.data.reactions).toEqual([expect.objectContaining({ reaction: 'love' })]);
      } else {
        expect(res.status).toBe(400);
      }
    });
  });

  describe('GET /instagram-dms/conversations', () => {
    it('should list the caller’s threads newest first with the window, keyset paginated and filtered', async () => {
      const userId = newUserId();
      const acct = await givenAccount(app, {
        userId,
        igId: '17841499999000001',
        accessToken: 'IGAA_X',
      });
      const now = Date.now();
      await givenConversation(app, acct.accountId, 'c-old', {
        last_message_at: new Date(now - 3000),
        last_inbound_at: new Date(now - 2 * DAY),
        unread_count: 0,
      });
      await givenConversation(app, acct.accountId, 'c-mid', {
        last_message_at: new Date(now - 2000),
        last_inbound_at: new Date(now - 3600_000),
        unread_count: 2,
      });
      await givenConversation(app, acct.accountId, 'c-new', {
        last_message_at: new Date(now - 1000),
        unread_count: 0,
        customer: { name: 'Nia', username: 'nia' },
      });
      await givenConversation(app, '65a0000000000000000000ff', 'not-mine');

      const first = await app
        .http()
        .get('/instagram-dms/conversations?limit=2')
        .set(app.bearer(userId))
        .expect(200);
      expect(first.body.total).toBe(3);
      expect(first.body.data.map((c: { customer_id: string }) => c.customer_id)).toEqual([
        'c-new',
        'c-mid',
      ]);
      expect(first.body.data[0]).toMatchObject({
        customer: { name: 'Nia' },
        window: { open: false, closes_at: null },
      });
      expect(first.body.data[1]).toMatchObject({
        unread_count: 2,
        window: { open: true, closes_at: new Date(now - 3600_000 + DAY).toISOString() },
      });
      const second = await app
        .http()
        .get('/instagram-dms/conversations')
        .query({ limit: 2, cursor: first.body.next_cursor })
        .set(app.bearer(userId))
        .expect(200);
      expect(second.body.data.map((c: { customer_id: string }) => c.customer_id)).toEqual([
        'c-old',
      ]);
      expect(second.body.data[0].window.open).toBe(false);
      expect(second.body.next_cursor).toBeNull();

      const unread = await app
        .http()
        .get(`/instagram-dms/conversations?unread_only=true&platform_account_id=${acct.accountId}`)
        .set(app.bearer(userId))
        .expect(200);
      expect(unread.body.data.map((c: { customer_id: string }) => c.customer_id)).toEqual([
        'c-mid',
      ]);
    });
  });

  describe('POST /instagram-dms/comments/:comment_id/reply', () => {
    async function givenComment(t: Awaited<ReturnType<typeof givenThread>>, ageMs = 0) {
      const { commentId } = await t.customer.comments(undefined, 'Price?');
      // Stored by the webhook worker; only then aged (a concurrent upsert of the same comment
      // is not atomic on FerretDB).
      const comments = app.connection.db!.collection('instagram_comments');
      await eventually(() => comments.findOne({ _id: commentId as never }));
      await comments.updateOne(
        { _id: commentId as never },
        { $set: { created_at: new Date(Date.now() - ageMs) } },
      );
      return commentId;
    }

    it('should send one private reply per comment and store it linked to the comment', async () => {
      const t = await givenThread();
      const commentId = await givenComment(t);
      const url = `/instagram-dms/comments/${commentId}/reply`;
      const res = await app
        .http()
        .post(url)
        .set(app.bearer(t.userId))
        .send({ platform_account_id: t.accountId, message_text: 'Sent you the price!' })
        .expect(200);
      expect(res.body).toMatchObject({
        success: true,
        result: { recipient_id: t.customer.igsid, message_id: expect.any(String) },
        stored: {
          comment_id: commentId,
          message_type: 'private_reply',
          direction: 'outbound',
          user_id: t.userId,
        },
      });
      const comment = await app.connection
        .db!.collection('instagram_comments')
        .findOne({ _id: commentId as never });
      expect(comment!.private_reply).toMatchObject({
        message_id: res.body.result.message_id,
        dm_id: res.body.stored._id,
        status: 'sent',
      });

      const again = await app
        .http()
        .post(url)
        .set(app.bearer(t.userId))
        .send({ platform_account_id: t.accountId, message_text: 'again' })
        .expect(409);
      expect(again.body.error.code).toBe('PRIVATE_REPLY_USED');
    });

    it('should refuse a text over 1000 UTF-8 bytes with 400 TEXT_TOO_LONG, like the send route', async () => {
      const t = await givenThread();
      const commentId = await givenComment(t);
      const url = `/instagram-dms/comments/${commentId}/reply`;
      const before = sendCalls();
      const res = await app
        .http()
        .post(url)
        .set(app.bearer(t.userId))
        .send({ platform_account_id: t.accountId, message_text: '€'.repeat(334) })
        .expect(400);
      expect(res.body.error.code).toBe('TEXT_TOO_LONG');
      expect(sendCalls()).toBe(before);
      // Refused before the claim: the comment keeps its one private reply.
      await app
        .http()
        .post(url)
        .set(app.bearer(t.userId))
        .send({ platform_account_id: t.accountId, message_text: '€'.repeat(333) })
        .expect(200);
    });

    it('should refuse a comment older than 7 days with 422 and release the claim when Meta refuses', async () => {
      const t = await givenThread();
      const old = await givenComment(t, 8 * DAY);
      const res = await app
        .http()
        .post(`/instagram-dms/comments/${old}/reply`)
        .set(app.bearer(t.userId))
        .send({ platform_account_id: t.accountId, message_text: 'hi' })
        .expect(422);
      expect(res.body.error.code).toBe('PRIVATE_REPLY_WINDOW_CLOSED');

      const commentId = await givenComment(t);
      const fault = meta.fault({
        endpoint: 'send',
        metaError: { code: 10, subcode: 2534022, message: 'outside window' },
        times: 1,
      });
      await app
        .http()
        .post(`/instagram-dms/comments/${commentId}/reply`)
        .set(app.bearer(t.userId))
        .send({ platform_account_id: t.accountId, message_text: 'hi' });
      fault.clear();
      const comment = await app.connection
        .db!.collection('instagram_comments')
        .findOne({ _id: commentId as never });
      expect(comment!.private_reply).toBeUndefined();
      await app
        .http()
        .post(`/instagram-dms/comments/${commentId}/reply`)
        .set(app.bearer(t.userId))
        .send({ platform_account_id: t.accountId, message_text: 'hi' })
        .expect(200);
    });

    it('should answer 404 for a comment of another account', async () => {
      const t = await givenThread();
      const u = await givenThread();
      const commentId = await givenComment(t);
      const res = await app
        .http()
        .post(`/instagram-dms/comments/${commentId}/reply`)
        .set(app.bearer(u.userId))
        .send({ platform_account_id: u.accountId, message_text: 'hi' })
        .expect(404);
      expect(res.body.error.code).toBe('COMMENT_NOT_FOUND');
    });

    it('should call Meta once for two concurrent replies and keep the reply recorded', async () => {
      const results: string[] = [];
      for (let round = 0; round < 15; round++) {
        const { biz, userId, account } = await givenTenant(app, meta);
        const customer: Customer = meta.customer(biz);
        const { commentId } = await customer.comments(undefined, 'Price?');
        await eventually(() => commentsCollection().findOne({ _id: commentId as never }));
        await deliveriesSettled(app.connection.db!);
        const before = meta.requests({ endpoint: 'send', accountIgId: biz.igId }).length;
        const reply = (text: string) =>
          app
            .http()
            .post(`/instagram-dms/comments/${commentId}/reply`)
            .set(app.bearer(userId))
            .send({ platform_account_id: account.accountId, message_text: text });
        const [a, b] = await Promise.all([reply('one'), reply('two')]);
        const calls = meta.requests({ endpoint: 'send', accountIgId: biz.igId }).length - before;
        await deliveriesSettled(app.connection.db!);
        const doc = await commentsCollection().findOne({ _id: commentId as never });
        results.push(
          `statuses=${a.status},${b.status} metaCalls=${calls} codes=${a.body.error?.code ?? '-'},${b.body.error?.code ?? '-'} private_reply=${JSON.stringify(doc?.private_reply ?? null)}`,
        );
      }
      for (const r of results) expect(r).toMatch(/metaCalls=1 /);
      for (const r of results) expect(r).toMatch(/"status":"sent"/);
    });
  });
});
