import type { MetaSimulator } from '../../meta-simulator';
import { DeliveryWorker } from '../../src/webhook/delivery-worker.service';
import type { TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import { messagingBody, newMid, postWebhook, startAppWithSimulator } from './webhook-helpers';

/**
 * The worker's batch path: many acknowledged deliveries processed as one batch. Each message is
 * stored once, a redelivery inside the same batch changes nothing, every thread counts its unread
 * messages exactly, and a delivery that is not only messages (a reaction) keeps its effect.
 * The worker is off in this app, so the test decides what one batch holds.
 */
describe('deliveries processed in one batch (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startAppWithSimulator({ WEBHOOK_WORKER_ENABLED: 'false' }));
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const db = () => app.connection.db!;

  it('should store each message of a batch once, with exact unread counts per thread', async () => {
    const { biz, account } = await givenTenant(app, meta);
    const customers = ['71001', '71002', '71003', '71004'].map((c) => `${c}${Date.now() % 1e6}`);
    const t = Date.now();
    const bodies: string[] = [];
    const mids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const mid = newMid();
      mids.push(mid);
      bodies.push(
        messagingBody(biz.igId, [
          {
            sender: { id: customers[i % 4] },
            recipient: { id: biz.igId },
            timestamp: t + i,
            message: { mid, text: `message ${i}` },
          },
        ]),
      );
    }
    // Meta delivering three of them twice, in the same batch.
    bodies.push(bodies[0], bodies[5], bodies[10]);
    // A reaction to the first message, in a delivery of its own after it.
    bodies.push(
      messagingBody(biz.igId, [
        {
          sender: { id: customers[0] },
          recipient: { id: biz.igId },
          timestamp: t + 100,
          reaction: { mid: mids[0], action: 'react', reaction: 'love', emoji: '\u2764' },
        },
      ]),
    );
    for (const body of bodies) await postWebhook(app, body).expect(200);
    const ids = (
      await db()
        .collection('webhook_pending')
        .find({}, { projection: { _id: 1 } })
        .toArray()
    ).map((d) => String(d._id));
    expect(ids).toHaveLength(bodies.length);

    await app.app.get(DeliveryWorker).processBatch(ids);

    const dms = db().collection('instagram_dms');
    for (const mid of mids) expect(await dms.countDocuments({ message_id: mid })).toBe(1);
    for (const [k, customer] of customers.entries()) {
      const conv = await db()
        .collection('instagram_conversations')
        .findOne({ _id: `${account.accountId}:${customer}` as never });
      expect({ customer, unread: conv?.unread_count }).toEqual({ customer, unread: 6 });
      // The newest of the thread's messages is its preview.
      expect(conv?.last_message?.message_id).toBe(mids[20 + k]);
    }
    expect(await dms.findOne({ message_id: mids[0] })).toMatchObject({
      reactions: [expect.objectContaining({ reaction: 'love' })],
    });
    // Every delivery is done, the redeliveries included.
    expect(
      await db().collection('webhook_deliveries').countDocuments({ status: 'processed' }),
    ).toBe(bodies.length);
  });
  it('should count a message once when two batches store the same mid at the same moment', async () => {
    const { biz, account } = await givenTenant(app, meta);
    const worker = app.app.get(DeliveryWorker);
    const queue = db().collection('webhook_pending');
    // Meta delivering the same message twice, each copy taken by its own batch: one takes the
    // batch path, the other finds the mid claimed and stores it one by one, racing the insert.
    for (let round = 0; round < 10; round++) {
      const customer = `72${round}${Date.now() % 1e6}`;
      const mid = newMid();
      const body = messagingBody(biz.igId, [
        {
          sender: { id: customer },
          recipient: { id: biz.igId },
          timestamp: Date.now(),
          message: { mid, text: `round ${round}` },
        },
      ]);
      await postWebhook(app, body).expect(200);
      await postWebhook(app, body).expect(200);
      const ids = (await queue.find({}, { projection: { _id: 1 } }).toArray()).map((d) =>
        String(d._id),
      );
      expect(ids).toHaveLength(2);
      await Promise.all(ids.map((id) => worker.processBatch([id])));

      expect(await db().collection('instagram_dms').countDocuments({ message_id: mid })).toBe(1);
      const conv = await db()
        .collection('instagram_conversations')
        .findOne({ _id: `${account.accountId}:${customer}` as never });
      expect({ round, unread: conv?.unread_count }).toEqual({ round, unread: 1 });
      expect(await queue.countDocuments({})).toBe(0);
    }
  });
  it("should store a new thread's first messages named, reading its customer's profile once", async () => {
    const { biz, account } = await givenTenant(app, meta);
    const customer = meta.customer(biz, { name: 'Batch Newcomer' });
    customer.record.consent = true;
    const profileReads = () =>
      meta.requests({ endpoint: 'profile' }).filter((r) => r.path.includes(customer.igsid)).length;
    const mids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const mid = newMid();
      mids.push(mid);
      await postWebhook(
        app,
        messagingBody(biz.igId, [
          {
            sender: { id: customer.igsid },
            recipient: { id: biz.igId },
            timestamp: Date.now() + i,
            message: { mid, text: `hello ${i}` },
          },
        ]),
      ).expect(200);
    }
    const ids = (
      await db()
        .collection('webhook_pending')
        .find({}, { projection: { _id: 1 } })
        .toArray()
    ).map((d) => String(d._id));

    await app.app.get(DeliveryWorker).processBatch(ids);

    const dms = await db()
      .collection('instagram_dms')
      .find({ message_id: { $in: mids } })
      .toArray();
    expect(dms.map((d) => d.sender_name)).toEqual(mids.map(() => 'Batch Newcomer'));
    const conv = await db()
      .collection('instagram_conversations')
      .findOne({ _id: `${account.accountId}:${customer.igsid}` as never });
    expect(conv).toMatchObject({
      customer: { name: 'Batch Newcomer' },
      profile_pending: false,
      unread_count: 5,
    });
    expect(conv?.unnamed_dm_ids ?? []).toEqual([]);
    // The batch recorded the profile fresh, so no enrichment follows: Meta was asked once.
    expect(profileReads()).toBe(1);
  });

  it('should store a message in a batch as the same document it is when stored alone', async () => {
    const { biz } = await givenTenant(app, meta);
    const worker = app.app.get(DeliveryWorker);
    const queue = db().collection('webhook_pending');
    const stored = async (ids: string[]) => {
      await worker.processBatch(ids);
      expect(await queue.countDocuments({})).toBe(0);
    };
    const message = (customer: string, mid: string) =>
      messagingBody(biz.igId, [
        {
          sender: { id: customer },
          recipient: { id: biz.igId },
          timestamp: 1_700_000_000_000,
          message: {
            mid,
            text: 'with a photo',
            attachments: [{ type: 'image', payload: { url: 'https://cdn.example/p.jpg' } }],
          },
        },
      ]);
    const ids = async () =>
      (await queue.find({}, { projection: { _id: 1 } }).toArray()).map((d) => String(d._id));
    // processBatch stores new inbound messages the batch way, process() one by one.
    const [batched, other, alone] = [newMid(), newMid(), newMid()];
    await postWebhook(app, message('73001', batched)).expect(200);
    await postWebhook(app, message('73002', other)).expect(200);
    await stored(await ids());
    await postWebhook(app, message('73003', alone)).expect(200);
    await worker.process((await ids())[0]);
    expect(await queue.countDocuments({})).toBe(0);

    const dms = db().collection('instagram_dms');
    const shape = (doc: Record<string, unknown> | null) =>
      Object.fromEntries(
        Object.entries(doc ?? {})
          .filter(([k]) => !['_id', 'message_id', 'sender_id', 'customer_id', 'raw'].includes(k))
          .map(([k, v]) => [k, v instanceof Date ? 'Date' : v === null ? null : typeof v]),
      );
    const one = await dms.findOne({ message_id: alone });
    const bulk = await dms.findOne({ message_id: batched });
    expect(shape(bulk)).toEqual(shape(one));
    expect(shape(bulk)).toMatchObject({ created_at: 'Date', read: 'boolean', text: 'string' });
    const attachments = (doc: typeof one) =>
      (doc?.attachments as Record<string, unknown>[]).map(shape);
    expect(attachments(bulk)).toEqual(attachments(one));
  });
});
