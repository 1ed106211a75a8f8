import { Types } from 'mongoose';
import type { MetaSimulator } from '../../meta-simulator';
import { LegacyLedgerService } from '../../src/dms/legacy-ledger.service';
import type { TestApp } from '../support/e2e';
import { givenTenant } from '../support/factories';
import { eventually, newMid, postWebhook, startAppWithSimulator } from './webhook-helpers';

/**
 * Two accounts connected to igdm that talk to each other (an agency's clients, a shop and its
 * supplier): Meta gives both sides the same mid. Each side is its own tenant's message, stored
 * once in its own account, counted unread on the receiving side, never merged into the other.
 */
describe('one mid, two connected accounts (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;

  beforeAll(async () => {
    ({ app, meta } = await startAppWithSimulator());
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
  });

  const dms = () => app.connection.db!.collection('instagram_dms');
  const ledger = () => app.connection.db!.collection('instagram_dm_ids');

  async function listed(userId: string, accountId: string) {
    const res = await app
      .http()
      .get(`/instagram-dms/list?platform_account_id=${accountId}&limit=100`)
      .set(app.bearer(userId))
      .expect(200);
    return res.body.data as {
      message_id: string;
      direction: string;
      platform_account_id: string;
      text: string;
    }[];
  }

  async function conversation(userId: string, accountId: string, customerId: string) {
    const res = await app
      .http()
      .get(`/instagram-dms/conversations?platform_account_id=${accountId}`)
      .set(app.bearer(userId))
      .expect(200);
    return (res.body.data as { customer_id: string; unread_count: number }[]).find(
      (c) => c.customer_id === customerId,
    );
  }

  /** Every delivery received so far has been processed by the worker. */
  async function processedAll() {
    await eventually(async () =>
      (await app.connection.db!.collection('webhook_pending').countDocuments({})) === 0
        ? true
        : undefined,
    );
  }

  async function twoShops() {
    const shop = await givenTenant(app, meta);
    const supplier = await givenTenant(app, meta);
    const link = meta.connectBusinesses(shop.biz, supplier.biz);
    return { shop, supplier, ...link };
  }

  it('should store a message between them once on each side, each in its own tenant', async () => {
    const {
      shop,
      supplier,
      bAsSeenByA: supplierForShop,
      aAsSeenByB: shopForSupplier,
    } = await twoShops();
    // The supplier writes first (from Instagram's app), which opens the shop's window.
    const opener = await supplierForShop.sends('Your order is ready');
    await eventually(() => dms().findOne({ message_id: opener.mid }));

    const sent = await app
      .http()
      .post('/instagram-dms/send')
      .set(app.bearer(shop.account.userId))
      .send({
        platform_account_id: shop.account.accountId,
        recipient_id: supplierForShop.igsid,
        message_text: 'Great, picking it up at 5',
      })
      .expect(200);
    const mid = sent.body.result.message_id as string;

    // Meta delivers the shop's echo and the supplier's inbound copy with the same mid.
    const inSupplier = await eventually(async () =>
      (await listed(supplier.account.userId, supplier.account.accountId)).find(
        (d) => d.message_id === mid,
      ),
    );
    expect(inSupplier).toMatchObject({
      direction: 'inbound',
      platform_account_id: supplier.account.accountId,
      text: 'Great, picking it up at 5',
    });
    await eventually(() =>
      Promise.resolve(
        meta
          .deliveries({ kind: 'echo' })
          .some((d) => d.delivered && d.body.includes(mid) && d.entryIds.includes(shop.biz.igId)),
      ),
    );
    const inShop = (await listed(shop.account.userId, shop.account.accountId)).filter(
      (d) => d.message_id === mid,
    );
    expect(inShop).toEqual([
      expect.objectContaining({
        direction: 'outbound',
        platform_account_id: shop.account.accountId,
      }),
    ]);
    // Neither tenant reaches the other's account.
    const foreign = await app
      .http()
      .get(`/instagram-dms/list?platform_account_id=${supplier.account.accountId}`)
      .set(app.bearer(shop.account.userId));
    expect(foreign.status).toBe(404);

    const copies = await dms().find({ message_id: mid }).toArray();
    expect(copies.map((d) => String(d.platform_account_id)).sort()).toEqual(
      [shop.account.accountId, supplier.account.accountId].sort(),
    );
    // The receiving side counts it unread; the sender's side is unchanged.
    expect(
      await conversation(
        supplier.account.userId,
        supplier.account.accountId,
        shopForSupplier.igsid,
      ),
    ).toMatchObject({ unread_count: 1 });

    // Meta delivering the supplier's copy again changes nothing on either side.
    const copyDelivery = meta
      .deliveries()
      .find((d) => d.body.includes(mid) && d.entryIds.includes(supplier.biz.igId))!;
    await postWebhook(app, copyDelivery.body).expect(200);
    await processedAll();
    expect(await dms().countDocuments({ message_id: mid })).toBe(2);
    expect(
      await conversation(
        supplier.account.userId,
        supplier.account.accountId,
        shopForSupplier.igsid,
      ),
    ).toMatchObject({ unread_count: 1 });
    // One ledger entry per side.
    for (const accountId of [shop.account.accountId, supplier.account.accountId])
      expect(await ledger().findOne({ _id: `${accountId}:${mid}` as never })).toMatchObject({
        dm_id: expect.any(Types.ObjectId),
      });
  });

  it('should let a reaction on one side change only that side', async () => {
    const {
      shop,
      supplier,
      bAsSeenByA: supplierForShop,
      aAsSeenByB: shopForSupplier,
    } = await twoShops();
    const opener = await supplierForShop.sends('Invoice attached');
    const mid = opener.mid!;
    // The supplier's own side (its echo of the app-sent message) is a second document.
    await postWebhook(
      app,
      JSON.stringify({
        object: 'instagram',
        entry: [
          {
            id: supplier.biz.igId,
            time: Date.now(),
            messaging: [
              {
                sender: { id: supplier.biz.igId },
                recipient: { id: shopForSupplier.igsid },
                timestamp: Date.now(),
                message: { mid, text: 'Invoice attached', is_echo: true },
              },
            ],
          },
        ],
      }),
    ).expect(200);
    await eventually(async () =>
      (await dms().countDocuments({ message_id: mid })) === 2 ? true : undefined,
    );
    await app
      .http()
      .post(
        `/instagram-dms/${String((await dms().findOne({ message_id: mid, platform_account_id: shop.account.accountId }))!._id)}/reaction`,
      )
      .set(app.bearer(shop.account.userId))
      .send({ reaction: 'love' })
      .expect(200);
    const shopCopy = await eventually(() =>
      dms().findOne({
        message_id: mid,
        platform_account_id: shop.account.accountId,
        'reactions.0': { $exists: true },
      }),
    );
    expect(shopCopy.reactions).toHaveLength(1);
    const supplierCopy = await dms().findOne({
      message_id: mid,
      platform_account_id: supplier.account.accountId,
    });
    expect(supplierCopy?.reactions ?? []).toEqual([]);
  });

  it('should move a ledger written before keys were per account, once, and keep counting right', async () => {
    const shop = await givenTenant(app, meta);
    const customer = meta.customer(shop.biz);
    const delivered = await customer.sends('written before the upgrade');
    const mid = delivered.mid!;
    const dm = await eventually(() => dms().findOne({ message_id: mid }));
    const accountId = shop.account.accountId;
    const commentId = newMid();
    // The ledger as igdm wrote it before this version: bare mids and markers.
    await ledger().deleteMany({
      _id: { $in: [`${accountId}:${mid}`, `${accountId}:${mid}#unread`] } as never,
    });
    await ledger().insertMany([
      { _id: mid as never, dm_id: dm._id, platform_account_id: accountId, created_at: new Date() },
      { _id: `${mid}#unread` as never, created_at: new Date() },
      { _id: `${mid}#claim` as never, created_at: new Date() },
      {
        _id: `${commentId}#private_reply` as never,
        platform_account_id: accountId,
        created_at: new Date(),
      },
    ]);

    await app.app.get(LegacyLedgerService).backfill();

    const keys = (
      await ledger()
        .find({
          _id: {
            $in: [
              mid,
              `${mid}#unread`,
              `${mid}#claim`,
              `${commentId}#private_reply`,
              `${accountId}:${mid}`,
              `${accountId}:${mid}#unread`,
              `${accountId}:${commentId}#private_reply`,
            ],
          } as never,
        })
        .toArray()
    )
      .map((d) => String(d._id))
      .sort();
    expect(keys).toEqual(
      [
        `${accountId}:${mid}`,
        `${accountId}:${mid}#unread`,
        `${accountId}:${commentId}#private_reply`,
      ].sort(),
    );
    expect(await ledger().findOne({ _id: `${accountId}:${mid}` as never })).toMatchObject({
      dm_id: dm._id,
    });
    // Meta delivering it again after the upgrade: still one document, still one unread.
    await postWebhook(app, delivered.delivery.body).expect(200);
    await processedAll();
    expect(await dms().countDocuments({ message_id: mid })).toBe(1);
    expect(await conversation(shop.account.userId, accountId, customer.igsid)).toMatchObject({
      unread_count: 1,
    });
  });
});
