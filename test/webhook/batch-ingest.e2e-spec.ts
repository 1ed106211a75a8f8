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
});
