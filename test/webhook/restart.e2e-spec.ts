import type { AddressInfo } from 'node:net';
import { Types } from 'mongoose';
import type { MetaSimulator } from '../../meta-simulator';
import { createTestApp, TEST_APP_SECRET, type TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import {
  deliveriesSettled,
  eventually,
  messagingBody,
  newMid,
  startAppWithSimulator,
  WEBHOOK_TEST_ENV,
} from './webhook-helpers';

describe('Webhook deliveries across a restart (e2e)', () => {
  let first: TestApp;
  let second: TestApp | undefined;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app: first, meta } = await startAppWithSimulator());
  });
  afterAll(async () => {
    await second?.close();
    await meta?.close();
  });

  it('should process acknowledged deliveries left pending by a killed process exactly once', async () => {
    const { biz } = await givenTenant(first, meta);
    const customer = meta.customer(biz);
    const { mid: processedMid, delivery } = await customer.sends('stored before the crash');
    const db = first.connection.db!;
    await eventually(() => db.collection('instagram_dms').findOne({ message_id: processedMid }));

    // As if acknowledged and then the process died: one delivery never touched, one claimed
    // mid-processing (lease expired), one a retry of a delivery already processed, queued by an
    // igdm from before the queue had a collection of its own (pending in the history).
    const pendingMid = newMid();
    const event = (mid: string) => ({
      sender: { id: customer.igsid },
      recipient: { id: biz.igId },
      timestamp: Date.now(),
      message: { mid, text: 'acked, then killed' },
    });
    const claimedMid = newMid();
    const now = new Date();
    await db.collection('webhook_pending').insertMany([
      {
        _id: new Types.ObjectId(),
        raw_body: messagingBody(biz.igId, [event(pendingMid)]),
        received_at: now,
        status: 'pending',
        attempts: 0,
        lease_until: new Date(0),
      },
      {
        _id: new Types.ObjectId(),
        raw_body: messagingBody(biz.igId, [event(claimedMid)]),
        received_at: now,
        status: 'pending',
        attempts: 1,
        lease_until: new Date(Date.now() - 1000),
        lease_owner: 'dead-instance',
      },
    ]);
    await db.collection('webhook_deliveries').insertOne({
      _id: new Types.ObjectId(),
      raw_body: delivery.body,
      received_at: now,
      status: 'pending',
      attempts: 0,
      lease_until: new Date(0),
    });
    await first.app.close(); // the database survives

    second = await createTestApp({
      DATABASE_NAME: first.env.DATABASE_NAME,
      INSTAGRAM_GRAPH_URL: meta.graphUrl,
      INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
      ...WEBHOOK_TEST_ENV,
    });
    await second.app.listen(0, '127.0.0.1');
    meta.setWebhookUrl(
      `http://127.0.0.1:${(second.app.getHttpServer().address() as AddressInfo).port}/webhook/instagram`,
    );
    const dms = second.connection.db!.collection('instagram_dms');
    const deliveries = second.connection.db!.collection('webhook_deliveries');
    await eventually(
      async () => (await deliveries.countDocuments({ status: 'processed' })) >= 4, // 1 + 3
    );
    await deliveriesSettled(second.connection.db!);
    expect(await deliveries.countDocuments({ status: 'pending' })).toBe(0);
    for (const mid of [pendingMid, claimedMid, processedMid]) {
      expect(await dms.countDocuments({ message_id: mid })).toBe(1);
    }
    const conv = await second.connection
      .db!.collection('instagram_conversations')
      .findOne({ customer_id: customer.igsid });
    expect(conv!.unread_count).toBe(3);
  });
});
