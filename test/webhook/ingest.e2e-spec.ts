import { LegacyLedgerService } from '../../src/dms/legacy-ledger.service';
import type { mongo } from 'mongoose';

type Collection<T> = mongo.Collection<T extends mongo.Document ? T : never>;
type Document = mongo.Document;
import type { MetaSimulator } from '../../meta-simulator';
import { ACCOUNT_CONNECTED } from '../../src/accounts/accounts.types';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DmsIngestService } from '../../src/dms/ingest/ingest.service';
import { AccountsService } from '../../src/accounts/accounts.service';
import { newUserId, type TestApp } from '../support/e2e';
import { givenAccount, givenTenant } from '../support/factories';
import {
  eventually,
  messagingBody,
  newMid,
  postWebhook,
  sign,
  startAppWithSimulator,
} from './webhook-helpers';

/** Our own message to the customer, as Meta echoes it. */
const echoBody = (igId: string, customerId: string, mid: string, timestamp: number) =>
  messagingBody(igId, [
    {
      sender: { id: igId },
      recipient: { id: customerId },
      timestamp,
      message: { mid, text: 'reply', is_echo: true },
    },
  ]);

/** The customer has read the thread up to `mid`. */
const readReceiptBody = (igId: string, customerId: string, mid: string, timestamp: number) =>
  messagingBody(igId, [
    { sender: { id: customerId }, recipient: { id: igId }, timestamp, read: { mid } },
  ]);

describe('Webhook ingest (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;
  let dms: Collection<Document>;
  let convs: Collection<Document>;
  let deliveries: Collection<Document>;

  beforeAll(async () => {
    ({ app, meta } = await startAppWithSimulator());
    const db = app.connection.db!;
    dms = db.collection('instagram_dms');
    convs = db.collection('instagram_conversations');
    deliveries = db.collection('webhook_deliveries');
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const connected = (opts: { enabled?: boolean } = {}) => givenTenant(app, meta, opts);
  const dmOf = (mid: string) => eventually(() => dms.findOne({ message_id: mid }));
  const post = (body: string, signature: string | null = sign(body)) =>
    postWebhook(app, body, signature);

  describe('GET /webhook/instagram', () => {
    it('should echo the challenge for the right verify token', async () => {
      const res = await meta.verifyWebhook();
      expect(res.ok).toBe(true);
    });
    it('should answer 403 for a wrong token or mode', async () => {
      expect((await meta.verifyWebhook({ verifyToken: 'wrong' })).status).toBe(403);
      await app
        .http()
        .get('/webhook/instagram')
        .query({
          'hub.mode': 'unsubscribe',
          'hub.verify_token': app.env.META_WEBHOOK_VERIFY_TOKEN,
          'hub.challenge': '1',
        })
        .expect(403);
    });
  });

  describe('POST /webhook/instagram rejections', () => {
    it('should answer 401 and store nothing without a valid signature', async () => {
      const body = messagingBody('17841499999999999', [
        {
          sender: { id: '1' },
          recipient: { id: '2' },
          timestamp: Date.now(),
          message: { mid: newMid(), text: 'x' },
        },
      ]);
      const before = await deliveries.countDocuments();
      await post(body, null).expect(401);
      await post(body, sign(body, 'wrong-secret')).expect(401);
      await post(body, 'sha256=00').expect(401);
      expect(await deliveries.countDocuments()).toBe(before);
    });
    it('should answer 400 for malformed bodies and 413 for oversize ones', async () => {
      for (const body of ['{not json', '[]', '{"object":"instagram"}', '{"entry":[]}', '"x"']) {
        const res = await post(body);
        expect(res.status).toBe(400);
        expect(res.body.success).toBe(false);
      }
      const big = JSON.stringify({
        object: 'instagram',
        entry: [],
        pad: 'x'.repeat(1024 * 1024 + 10),
      });
      await post(big).expect(413);
    });
    it('should acknowledge and ignore other objects', async () => {
      const body = JSON.stringify({ object: 'page', entry: [] });
      await post(body).expect(200);
      await eventually(() => deliveries.findOne({ raw_body: body, status: 'ignored' }));
    });
  });

  describe('messages', () => {
    it('should store a text message with the reference fields and update the conversation', async () => {
      const { biz, account } = await connected();
      const customer = meta.customer(biz, { name: 'Ana Lima' });
      const { mid, delivery } = await customer.sends('Hi! Do you ship to Lisbon?');
      expect(delivery.attempts[0].status).toBe(200);
      const dm = await dmOf(mid!);
      expect(dm).toMatchObject({
        platform_account_id: account.accountId,
        ig_id: biz.igId,
        user_id: account.userId,
        sender_id: customer.igsid,
        recipient_id: biz.igId,
        text: 'Hi! Do you ship to Lisbon?',
        is_echo: false,
        direction: 'inbound',
        read: false,
        manual_dm: false,
        is_deleted: false,
        customer_id: customer.igsid,
        message_type: 'text',
        source: 'webhook',
        raw: { mid, text: 'Hi! Do you ship to Lisbon?' },
      });
      expect(typeof dm.timestamp).toBe('number');
      expect(dm.created_at).toEqual(new Date(dm.timestamp));
      const conv = await eventually(() =>
        convs.findOne({
          _id: `${account.accountId}:${customer.igsid}` as never,
          last_message: { $exists: true },
        }),
      );
      expect(conv).toMatchObject({
        unread_count: 1,
        user_id: account.userId,
        last_message: { message_id: mid },
      });
      expect(conv.last_inbound_at).toEqual(new Date(dm.timestamp));
      // Enrichment after the ack: names and profile.
      const named = await eventually(() =>
        dms.findOne({ message_id: mid, sender_name: 'Ana Lima' }),
      );
      expect(named.recipient_name).toBe(biz.name);
      const enriched = await eventually(() =>
        convs.findOne({ _id: conv._id, 'customer.username': customer.username }),
      );
      expect(enriched.customer.fetched_at).toBeInstanceOf(Date);
    });

    it('should keep every attachment kind, reply_to, quick reply, referral, standby and unsupported', async () => {
      const { biz } = await connected();
      const c = meta.customer(biz);
      const cases: [Promise<{ mid?: string }>, Record<string, unknown>][] = [
        [c.sendsImage(), { message_type: 'attachment', 'attachments.0.type': 'image' }],
        [c.sendsAttachment('video'), { 'attachments.0.type': 'video' }],
        [c.sendsAttachment('audio'), { 'attachments.0.type': 'audio' }],
        [c.sendsAttachment('file'), { 'attachments.0.type': 'file' }],
        [c.sendsAttachment('share'), { message_type: 'share', 'attachments.0.type': 'share' }],
        [c.sharesPost(), { message_type: 'share', 'attachments.0.type': 'ig_post' }],
        [c.sharesReel(), { message_type: 'share', 'attachments.0.type': 'ig_reel' }],
        [c.sharesStory(), { message_type: 'share', 'attachments.0.type': 'ig_story' }],
        [
          c.mentionsInStory(),
          { message_type: 'story_mention', 'attachments.0.type': 'story_mention' },
        ],
        [c.repliesToStory('Is this in M?'), { message_type: 'story_reply', text: 'Is this in M?' }],
        [c.quickReply('Track my order', 'QR_TRACK'), { 'quick_reply.payload': 'QR_TRACK' }],
        [
          c.sendsFromAd('Hi, I saw your ad'),
          { 'referral.source': 'ADS', 'referral.ad_id': '120200000000000001' },
        ],
        [c.sendsUnsupported(), { message_type: 'unsupported', is_unsupported: true }],
        [c.sends('Anyone there?', { standby: true }), { is_standby: true, text: 'Anyone there?' }],
      ];
      for (const [action, expected] of cases) {
        const { mid } = await action;
        const dm = await dmOf(mid!);
        for (const [path, value] of Object.entries(expected)) {
          const actual = path
            .split('.')
            .reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], dm);
          expect([mid, path, actual]).toEqual([mid, path, value]);
        }
        if (dm.attachments) expect(dm.attachments[0].url_fetched_at).toBeInstanceOf(Date);
      }
      const first = (await c.sends('first')).mid!;
      const reply = (await c.repliesTo(first, 'that one')).mid!;
      expect((await dmOf(reply)).reply_to).toEqual({ mid: first });
    });

    it('should store postbacks, lone referrals and comments', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const trig = await meta.trigger('postback', { business: biz });
      const pb = await dmOf(trig.mid!);
      expect(pb).toMatchObject({
        message_type: 'postback',
        direction: 'inbound',
        postback: { title: expect.any(String), payload: expect.any(String) },
      });

      const ref = await meta.trigger('referral', { business: biz });
      const refDoc = await eventually(() =>
        dms.findOne({ platform_account_id: account.accountId, message_type: 'referral' }),
      );
      expect(refDoc.message_id).toMatch(/^referral:/);
      expect(refDoc.read).toBe(true);
      expect(ref.delivery.attempts[0].status).toBe(200);
      // The DM is stored before its thread is updated; the postback's thread may exist already.
      const conv = await eventually(() =>
        convs.findOne({
          _id: `${account.accountId}:${refDoc.customer_id}` as never,
          last_inbound_at: { $exists: true },
          last_referral: { $exists: true },
        }),
      );
      expect(conv.last_referral).toMatchObject({ source: expect.any(String) });

      const comment = await c.comments(undefined, 'How much is this?');
      const comments = app.connection.db!.collection('instagram_comments');
      const doc = await eventually(() => comments.findOne({ _id: comment.commentId as never }));
      expect(doc).toMatchObject({
        platform_account_id: account.accountId,
        text: 'How much is this?',
        is_own: false,
        media: { id: comment.mediaId },
      });
      const own = await meta.trigger('comment-own', { business: biz });
      const ownId = (
        JSON.parse(own.delivery.body) as { entry: { changes: { value: { id: string } }[] }[] }
      ).entry[0].changes[0].value.id;
      expect(await eventually(() => comments.findOne({ _id: ownId as never }))).toMatchObject({
        is_own: true,
      });
    });

    it('should route each entry of a batch to its own account', async () => {
      const a = await connected();
      const b = await connected();
      const ca = meta.customer(a.biz);
      const cb = meta.customer(b.biz);
      const mids: string[] = [];
      await meta.batch(async () => {
        mids.push((await ca.sends('to A')).mid!);
        mids.push((await cb.sends('to B')).mid!);
      });
      expect((await dmOf(mids[0])).platform_account_id).toBe(a.account.accountId);
      expect((await dmOf(mids[1])).platform_account_id).toBe(b.account.accountId);
    });

    it('should store one document when the same delivery arrives twice', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const mid = newMid();
      const body = messagingBody(biz.igId, [
        {
          sender: { id: c.igsid },
          recipient: { id: biz.igId },
          timestamp: Date.now(),
          message: { mid, text: 'twice' },
        },
      ]);
      await post(body).expect(200);
      await post(body).expect(200);
      await dmOf(mid);
      await eventually(
        async () =>
          (await deliveries.countDocuments({ raw_body: body, status: 'processed' })) === 2,
      );
      expect(await dms.countDocuments({ message_id: mid })).toBe(1);
      const conv = await convs.findOne({ _id: `${account.accountId}:${c.igsid}` as never });
      expect(conv!.unread_count).toBe(1);
    });

    it('should reuse a legacy document when the database already holds duplicates of the mid', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const mid = newMid();
      const legacy = {
        platform_account_id: account.accountId,
        user_id: account.userId,
        message_id: mid,
        text: 'old',
        direction: 'inbound',
        is_echo: false,
        read: true,
        manual_dm: false,
        is_deleted: false,
        timestamp: Date.now() - 1000,
      };
      await dms.insertMany([{ ...legacy }, { ...legacy }]);
      // As at start-up on a database the Python service wrote: the ledger learns its documents.
      await app.app.get(LegacyLedgerService).backfill();
      await post(
        messagingBody(biz.igId, [
          {
            sender: { id: c.igsid },
            recipient: { id: biz.igId },
            timestamp: Date.now(),
            message: { mid, text: 'old' },
          },
        ]),
      ).expect(200);
      await post(
        messagingBody(biz.igId, [
          {
            sender: { id: c.igsid },
            recipient: { id: biz.igId },
            timestamp: Date.now(),
            reaction: { mid, action: 'react', reaction: 'love', emoji: '\u2764' },
          },
        ]),
      ).expect(200);
      await eventually(() => dms.findOne({ message_id: mid, 'reactions.0.reaction': 'love' }));
      expect(await dms.countDocuments({ message_id: mid })).toBe(2);
    });
  });

  describe('events about a message', () => {
    it('should apply edit, reaction and unsend that arrive before their message', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const [m1, m2, m3] = [newMid(), newMid(), newMid()];
      const t = Date.now();
      const ev = (extra: Record<string, unknown>, ts = t + 1000) =>
        messagingBody(biz.igId, [
          { sender: { id: c.igsid }, recipient: { id: biz.igId }, timestamp: ts, ...extra },
        ]);
      await post(ev({ message_edit: { mid: m1, text: 'edited text', num_edit: 1 } })).expect(200);
      await post(
        ev({ reaction: { mid: m2, action: 'react', reaction: 'love', emoji: '\u2764\ufe0f' } }),
      ).expect(200);
      await post(ev({ message: { mid: m3, is_deleted: true } })).expect(200);
      await eventually(
        async () =>
          (await app.connection.db!.collection('instagram_dm_ids').countDocuments({
            _id: { $in: [m1, m2, m3].map((m) => `${account.accountId}:${m}`) } as never,
            pending: { $exists: true },
          })) === 3,
      );
      for (const mid of [m1, m2, m3]) {
        await post(
          ev(
            {
              message: {
                mid,
                text: 'original',
                attachments: [{ type: 'image', payload: { url: 'https://x.test/a' } }],
              },
            },
            t,
          ),
        ).expect(200);
      }
      expect(
        await eventually(() => dms.findOne({ message_id: m1, text: 'edited text' })),
      ).toMatchObject({ edit_count: 1, edited_at: new Date(t + 1000) });
      const reacted = await eventually(() =>
        dms.findOne({ message_id: m2, 'reactions.0': { $exists: true } }),
      );
      expect(reacted.reactions).toEqual([
        { sender_id: c.igsid, reaction: 'love', emoji: '\u2764\ufe0f', at: new Date(t + 1000) },
      ]);
      const unsent = await eventually(() => dms.findOne({ message_id: m3, is_unsent: true }));
      expect(unsent).toMatchObject({ text: null, attachments: [] });
      expect(unsent.raw).toEqual({ mid: m3 });
    });

    it('should edit, react, unreact and unsend stored messages once', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const { mid } = await c.sends('Yes, that one please');
      await dmOf(mid!);
      await c.edits(mid!, 'Yes, that one please, size M');
      await eventually(() =>
        dms.findOne({ message_id: mid, text: 'Yes, that one please, size M', edit_count: 1 }),
      );
      const noText = await meta.trigger('edit-no-text', {
        business: biz,
        mid: mid!,
        customerId: c.igsid,
      });
      expect(noText.delivery.attempts[0].status).toBe(200);
      await c.reacts(mid!, 'love');
      await eventually(() => dms.findOne({ message_id: mid, 'reactions.0.reaction': 'love' }));
      await c.unreacts(mid!);
      await eventually(() => dms.findOne({ message_id: mid, reactions: { $size: 0 } }));
      await c.unsends(mid!);
      const gone = await eventually(() => dms.findOne({ message_id: mid, is_unsent: true }));
      expect(gone.text).toBeNull();
      expect(gone.raw.text).toBeUndefined();
      expect(gone.edit_count).toBe(1);
      await eventually(() =>
        convs.findOne({ _id: `${account.accountId}:${c.igsid}` as never, unread_count: 0 }),
      );
    });

    it('should mark our messages seen on a read receipt and leave inbound read flags alone', async () => {
      const { biz } = await connected();
      const c = meta.customer(biz);
      const inbound = (await c.sends('hello')).mid!;
      const t = Date.now();
      const echo = (mid: string, ts: number) => echoBody(biz.igId, c.igsid, mid, ts);
      const [o1, o2, o3] = [newMid(), newMid(), newMid()];
      await post(echo(o1, t + 1)).expect(200);
      await post(echo(o2, t + 2)).expect(200);
      await post(echo(o3, t + 3)).expect(200);
      await dmOf(o3);
      expect(await dmOf(o1)).toMatchObject({
        direction: 'outbound',
        read: true,
        is_echo: true,
        customer_id: c.igsid,
      });
      await post(readReceiptBody(biz.igId, c.igsid, o2, t + 10)).expect(200);
      await eventually(() => dms.findOne({ message_id: o2, seen: true }));
      expect(await dms.findOne({ message_id: o1 })).toMatchObject({
        seen: true,
        seen_at: new Date(t + 10),
      });
      expect((await dms.findOne({ message_id: o3 }))!.seen).toBeUndefined();
      expect((await dms.findOne({ message_id: inbound }))!.read).toBe(false);
    });

    it('should mark a message seen when its read receipt arrived before it, with the older ones', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const t = Date.now();
      const echo = (mid: string, ts: number) => echoBody(biz.igId, c.igsid, mid, ts);
      const [o1, o2, o3] = [newMid(), newMid(), newMid()];
      await post(echo(o1, t + 1)).expect(200);
      await dmOf(o1);
      await post(readReceiptBody(biz.igId, c.igsid, o2, t + 10)).expect(200);
      await eventually(() =>
        app.connection.db!.collection('instagram_dm_ids').findOne({
          _id: `${account.accountId}:${o2}` as never,
          pending: { $exists: true },
        }),
      );
      await post(echo(o2, t + 2)).expect(200);
      await post(echo(o3, t + 3)).expect(200);
      await dmOf(o3);
      expect(await eventually(() => dms.findOne({ message_id: o2, seen: true }))).toMatchObject({
        seen_at: new Date(t + 10),
      });
      expect(await dms.findOne({ message_id: o1 })).toMatchObject({ seen: true });
      expect((await dms.findOne({ message_id: o3 }))!.seen).toBeUndefined();
      // A later receipt still finds o3: it was not forgotten by the first one.
      await post(readReceiptBody(biz.igId, c.igsid, o3, t + 20)).expect(200);
      expect(await eventually(() => dms.findOne({ message_id: o3, seen: true }))).toMatchObject({
        seen_at: new Date(t + 20),
      });
      expect(await dms.findOne({ message_id: o1 })).toMatchObject({ seen_at: new Date(t + 10) });
    });

    it('should mark seen the messages of a thread stored before igdm remembered unseen ones', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const t = Date.now();
      const echo = (mid: string, ts: number) => echoBody(biz.igId, c.igsid, mid, ts);
      const read = (mid: string, ts: number) => readReceiptBody(biz.igId, c.igsid, mid, ts);
      const [o1, o2, o3, o4, o5] = [newMid(), newMid(), newMid(), newMid(), newMid()];
      for (const [i, mid] of [o1, o2, o3].entries()) await post(echo(mid, t + 1 + i)).expect(200);
      await dmOf(o3);
      // As an older igdm (or the Python service) left the thread: nothing remembered on it.
      await convs.updateOne(
        { _id: `${account.accountId}:${c.igsid}` as never },
        {
          $unset: { unseen_outbound: '', unseen_tracked: '' },
        },
      );
      await post(read(o2, t + 10)).expect(200);
      await eventually(() => dms.findOne({ message_id: o2, seen: true }));
      expect(await dms.findOne({ message_id: o1 })).toMatchObject({ seen: true });
      expect((await dms.findOne({ message_id: o3 }))!.seen).toBeUndefined();
      await post(echo(o4, t + 4)).expect(200);
      await post(echo(o5, t + 5)).expect(200);
      await dmOf(o5);
      await post(read(o4, t + 20)).expect(200);
      await eventually(() => dms.findOne({ message_id: o4, seen: true }));
      expect(await dms.findOne({ message_id: o3 })).toMatchObject({
        seen: true,
        seen_at: new Date(t + 20),
      });
      expect((await dms.findOne({ message_id: o5 }))!.seen).toBeUndefined();
      expect(await dms.findOne({ message_id: o1 })).toMatchObject({ seen_at: new Date(t + 10) });
    });
  });

  describe('echo and send', () => {
    it('should keep one document when the echo arrives after the send stored it', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const ingest = app.app.get(DmsIngestService);
      const mid = newMid();
      const ts = Date.now();
      const sent = await ingest.storeMessage({
        platform_account_id: account.accountId,
        user_id: account.userId,
        ig_id: biz.igId,
        sender_id: biz.igId,
        recipient_id: c.igsid,
        customer_id: c.igsid,
        message_id: mid,
        text: 'We ship in 2-3 days',
        timestamp: ts,
        direction: 'outbound',
        manual_dm: true,
        source: 'send',
        raw: { message_id: mid, recipient_id: c.igsid },
      });
      expect(sent.created).toBe(true);
      await post(
        messagingBody(biz.igId, [
          {
            sender: { id: biz.igId },
            recipient: { id: c.igsid },
            timestamp: ts + 5,
            message: { mid, text: 'We ship in 2-3 days', is_echo: true },
          },
        ]),
      ).expect(200);
      const merged = await eventually(() => dms.findOne({ message_id: mid, is_echo: true }));
      expect(merged).toMatchObject({
        _id: sent.dm._id,
        manual_dm: true,
        source: 'send',
        raw: { mid, is_echo: true },
      });
      expect(await dms.countDocuments({ message_id: mid })).toBe(1);
    });

    it('should keep every field when an echo, a name fill and a reaction hit one message at once', async () => {
      const { biz, account } = await connected();
      // The customer wrote once (so Graph gives its profile), but that delivery never came:
      // the thread starts with our message, stored before the customer's name is known.
      const c = meta.customer(biz, { name: 'Dana', username: 'dana' });
      const drop = meta.dropDeliveries({ count: 1 });
      await c.sends('hello?');
      drop.clear();
      const ingest = app.app.get(DmsIngestService);
      const routed = (await app.app.get(AccountsService).resolveForWebhook([biz.igId]))!;
      for (let round = 0; round < 3; round += 1) {
        const mid = newMid();
        const ts = Date.now();
        const draft = {
          platform_account_id: account.accountId,
          user_id: account.userId,
          ig_id: biz.igId,
          sender_id: biz.igId,
          recipient_id: c.igsid,
          customer_id: c.igsid,
          message_id: mid,
          text: `round ${round}`,
          timestamp: ts,
          direction: 'outbound' as const,
          manual_dm: true,
          source: 'send' as const,
          raw: { message_id: mid },
        };
        await ingest.storeMessage(draft);
        const base = {
          entryId: biz.igId,
          routingIds: [biz.igId],
          senderId: c.igsid,
          recipientId: biz.igId,
          timestamp: ts + 1,
          isStandby: false,
        };
        await Promise.all([
          ingest.storeMessage({
            ...draft,
            source: 'webhook',
            manual_dm: false,
            is_echo: true,
            raw: { mid, is_echo: true },
          }),
          ingest.enrichConversation(routed, c.igsid, true),
          ingest.applyEvent(
            { ...base, kind: 'reaction', mid, action: 'react', reaction: 'love', emoji: '\u2764' },
            routed,
          ),
          ingest.applyEvent({ ...base, kind: 'read', mid }, routed),
        ]);
        const dm = await dms.findOne({ message_id: mid });
        expect(dm).toMatchObject({
          is_echo: true,
          manual_dm: true,
          seen: true,
          recipient_name: 'Dana',
          reactions: [expect.objectContaining({ sender_id: c.igsid, reaction: 'love' })],
        });
      }
    });

    it('should keep a private reply linked to its comment when its echo was stored first', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const ingest = app.app.get(DmsIngestService);
      const mid = newMid();
      const ts = Date.now();
      const common = {
        platform_account_id: account.accountId,
        ig_id: biz.igId,
        sender_id: biz.igId,
        recipient_id: c.igsid,
        customer_id: c.igsid,
        message_id: mid,
        text: 'Sent you the price',
        timestamp: ts,
        direction: 'outbound' as const,
      };
      await ingest.storeMessage({
        ...common,
        user_id: account.userId,
        is_echo: true,
        source: 'webhook',
        raw: { mid, is_echo: true },
      });
      const { dm, created } = await ingest.storeMessage({
        ...common,
        user_id: account.userId,
        manual_dm: true,
        message_type: 'private_reply',
        comment_id: '17900000000000001',
        source: 'send',
        send_status: 'sent',
        raw: { message_id: mid },
      });
      expect(created).toBe(false);
      expect(dm).toMatchObject({
        is_echo: true,
        manual_dm: true,
        message_type: 'private_reply',
        comment_id: '17900000000000001',
      });
      expect(await dms.countDocuments({ message_id: mid })).toBe(1);
    });

    it('should keep one document when the echo arrives before the send stores it', async () => {
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const mid = newMid();
      const ts = Date.now();
      await post(
        messagingBody(biz.igId, [
          {
            sender: { id: biz.igId },
            recipient: { id: c.igsid },
            timestamp: ts,
            message: { mid, text: 'hi', is_echo: true },
          },
        ]),
      ).expect(200);
      const echo = await dmOf(mid);
      expect(echo.manual_dm).toBe(false);
      const ingest = app.app.get(DmsIngestService);
      const res = await ingest.storeMessage({
        platform_account_id: account.accountId,
        user_id: account.userId,
        sender_id: biz.igId,
        recipient_id: c.igsid,
        customer_id: c.igsid,
        message_id: mid,
        text: 'hi',
        timestamp: ts,
        direction: 'outbound',
        manual_dm: true,
        source: 'send',
      });
      expect(res.created).toBe(false);
      expect(await dms.countDocuments({ message_id: mid })).toBe(1);
      expect(await dms.findOne({ message_id: mid })).toMatchObject({
        _id: echo._id,
        manual_dm: true,
        is_echo: true,
        user_id: account.userId,
      });
    });
  });

  describe('routing', () => {
    it('should record deliveries for unknown accounts and replay them once connected', async () => {
      const biz = meta.createBusiness();
      const c = meta.customer(biz);
      const { mid, delivery } = await c.sends('before connect');
      expect(delivery.attempts[0].status).toBe(200);
      const rec = await eventually(() =>
        deliveries.findOne({ unroutable_ids: biz.igId, status: 'processed' }),
      );
      expect(rec.result).toMatchObject({ unroutable: 1 });
      expect(await dms.countDocuments({ message_id: mid })).toBe(0);
      const account = await givenAccount(app, {
        userId: newUserId(),
        igId: biz.igId,
        accessToken: biz.accessToken,
      });
      app.app.get(EventEmitter2).emit(ACCOUNT_CONNECTED, {
        accountId: account.accountId,
        userId: account.userId,
        igId: biz.igId,
      });
      expect((await dmOf(mid!)).platform_account_id).toBe(account.accountId);
      const after = await eventually(() =>
        deliveries.findOne({
          _id: rec._id,
          status: 'processed',
          unroutable_ids: { $exists: false },
        }),
      );
      expect(after.result).toMatchObject({ stored: 1 });
    });

    it('should record but not store DMs of a disabled account', async () => {
      const { biz } = await connected({ enabled: false });
      const { mid } = await meta.customer(biz).sends('nobody home');
      await eventually(() =>
        deliveries.findOne({
          raw_body: { $regex: mid! },
          status: 'processed',
          'result.disabled': 1,
        }),
      );
      expect(await dms.countDocuments({ message_id: mid })).toBe(0);
    });

    it('should acknowledge and record the App Dashboard test delivery', async () => {
      const trig = await meta.trigger('dashboard-test');
      expect(trig.delivery.attempts[0].status).toBe(200);
      await eventually(() =>
        deliveries.findOne({
          raw_body: trig.delivery.body,
          status: 'processed',
          'result.dashboard_test': 1,
        }),
      );
    });
  });

  describe('enrichment', () => {
    it('should store messages while Graph is down and fill names later', async () => {
      const { biz } = await connected();
      const c = meta.customer(biz, { name: 'Bea Costa' });
      meta.fault({ endpoint: 'profile', status5xx: 503 });
      try {
        const { mid } = await c.sends('graph is down');
        const dm = await dmOf(mid!);
        expect(dm.sender_name).toBeUndefined();
        await eventually(() =>
          Promise.resolve(meta.requests({ endpoint: 'profile' }).some((r) => r.status === 503)),
        );
      } finally {
        meta.clearFaults();
      }
      await eventually(() => dms.findOne({ sender_id: c.igsid, sender_name: 'Bea Costa' }), 20_000);
    });

    it('should fetch a profile once per customer, not per message', async () => {
      const { biz } = await connected();
      const c = meta.customer(biz, { name: 'Caio' });
      const first = (await c.sends('one')).mid!;
      await eventually(() => dms.findOne({ message_id: first, sender_name: 'Caio' }));
      const second = (await c.sends('two')).mid!;
      await eventually(() => dms.findOne({ message_id: second, sender_name: 'Caio' }));
      expect(
        meta.requests({ endpoint: 'profile' }).filter((r) => r.path.includes(c.igsid)),
      ).toHaveLength(1);
    });
  });

  describe('GET /webhook/deliveries', () => {
    it("should need a JWT and list only the caller's deliveries, counts and ids without payloads", async () => {
      await app.http().get('/webhook/deliveries').expect(401);
      const { biz, account } = await connected();
      const c = meta.customer(biz);
      const mids = [(await c.sends('first')).mid!, (await c.sends('second')).mid!];
      for (const mid of mids) await dmOf(mid);
      const mine = await eventually(async () => {
        const res = await app
          .http()
          .get('/webhook/deliveries?status=processed')
          .set(app.bearer(account.userId))
          .expect(200);
        return res.body.total === 2 ? res : null;
      });
      expect(mine.body).toMatchObject({ success: true, status: 'processed', total: 2 });
      expect(mine.body.data).toHaveLength(2);
      expect(mine.body.data[0]).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{24}$/),
        received_at: expect.any(String),
        attempts: 1,
        processed_at: expect.any(String),
      });
      expect(JSON.stringify(mine.body)).not.toContain('raw_body');
      expect(JSON.stringify(mine.body)).not.toContain('first');

      // Another user sees none of them, and neither does a user without accounts.
      const { account: other } = await connected();
      const theirs = await app
        .http()
        .get('/webhook/deliveries?status=processed')
        .set(app.bearer(other.userId))
        .expect(200);
      const ids = new Set(mine.body.data.map((d: { id: string }) => d.id));
      expect(theirs.body.data.filter((d: { id: string }) => ids.has(d.id))).toEqual([]);
      const none = await app
        .http()
        .get('/webhook/deliveries?status=processed')
        .set(app.bearer(newUserId()))
        .expect(200);
      expect(none.body).toMatchObject({ total: 0, data: [] });
      await app
        .http()
        .get('/webhook/deliveries?status=bogus')
        .set(app.bearer(account.userId))
        .expect(400);
    });
  });
});
