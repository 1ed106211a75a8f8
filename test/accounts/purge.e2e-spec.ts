import type { AddressInfo } from 'node:net';
import { Types } from 'mongoose';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { AccountsService } from '../../src/accounts/accounts.service';
import { AccountPurgeListener } from '../../src/dms/account-purge.listener';
import { givenConversation, givenDm, SseClient } from '../dms/dms-helpers';
import { eventually } from '../support/wait';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { countForAccount, givenTenant, storedAccount } from '../support/factories';

/** DELETE /accounts/:id?purge=true and the dms module's account.deleted listener. */
describe('account purge', () => {
  let sim: MetaSimulator;
  let t: TestApp;
  let base: string;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    sim = await startMetaSimulator();
    t = await createTestApp({
      INSTAGRAM_GRAPH_URL: sim.graphUrl,
      INSTAGRAM_API_URL: sim.apiUrl,
      INSTAGRAM_WWW_URL: sim.wwwUrl,
      INSTAGRAM_CLIENT_ID: sim.clientId,
      INSTAGRAM_CLIENT_SECRET: sim.appSecret,
    });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  const db = () => t.connection.db!;
  const count = (collection: string, accountId: string) =>
    countForAccount(t, collection, accountId);
  const accountDoc = (id: string) => storedAccount(t, id);

  /**
   * An account with two inbound DMs (their ledger entries and unread markers), a conversation
   * and a comment.
   */
  async function givenAccountWithDms(userId: string) {
    const { accountId } = (await givenTenant(t, sim, { userId })).account;
    const customer = `9${Date.now()}${Math.floor(Math.random() * 1e4)}`;
    const dms = [
      await givenDm(t, { platform_account_id: accountId, customer_id: customer }),
      await givenDm(t, { platform_account_id: accountId, customer_id: customer }),
    ];
    await db()
      .collection('instagram_dm_ids')
      .insertMany(
        dms.flatMap((dm) => [
          {
            _id: `${accountId}:${String(dm.message_id)}` as never,
            dm_id: dm._id,
            platform_account_id: accountId,
            created_at: new Date(),
          },
          {
            _id: `${accountId}:${String(dm.message_id)}#unread` as never,
            created_at: new Date(),
          },
        ]),
      );
    await givenConversation(t, accountId, customer);
    await db()
      .collection('instagram_comments')
      .insertOne({
        _id: `comment_${accountId}` as never,
        user_id: userId,
        platform_account_id: accountId,
        text: 'nice',
        created_at: new Date(),
      });
    // The comment's private reply was claimed: the claim goes with the account.
    await db()
      .collection('instagram_dm_ids')
      .insertOne({
        _id: `${accountId}:comment_${accountId}#private_reply` as never,
        platform_account_id: accountId,
        created_at: new Date(),
      });
    return { accountId, dms, mids: dms.map((d) => d.message_id as string) };
  }

  async function everything(accountId: string, mids: string[]) {
    return {
      dms: await count('instagram_dms', accountId),
      conversations: await count('instagram_conversations', accountId),
      comments: await count('instagram_comments', accountId),
      // Ledger entries and their unread markers.
      ledger: await db()
        .collection('instagram_dm_ids')
        .countDocuments({
          _id: {
            $in: [
              ...mids.flatMap((m) => [`${accountId}:${m}`, `${accountId}:${m}#unread`]),
              `${accountId}:comment_${accountId}#private_reply`,
            ] as never[],
          },
        }),
    };
  }

  it("should delete the account's DMs, conversations, comments and ledger, and only its own", async () => {
    const userId = newUserId();
    const purged = await givenAccountWithDms(userId);
    const sibling = await givenAccountWithDms(userId); // same user, other account
    const stranger = await givenAccountWithDms(newUserId());
    const stream = await SseClient.open(`${base}/instagram-dms/stream`, t.bearer(userId));
    clients.push(stream);
    expect(stream.status).toBe(200);
    const activity = () => db().collection('account_activity');
    for (const { accountId } of [purged, sibling])
      await t.app.get(AccountsService).recordWebhookSeen(accountId, new Date());

    const res = await t
      .http()
      .delete(`/accounts/${purged.accountId}?purge=true`)
      .set(t.bearer(userId))
      .expect(200);
    expect(res.body.data).toMatchObject({ id: purged.accountId, purge: true });

    await eventually(async () => !!(await accountDoc(purged.accountId))?.purged_at);
    expect(await everything(purged.accountId, purged.mids)).toEqual({
      dms: 0,
      conversations: 0,
      comments: 0,
      ledger: 0,
    });
    for (const kept of [sibling, stranger]) {
      expect(await everything(kept.accountId, kept.mids)).toEqual({
        dms: 2,
        conversations: 1,
        comments: 1,
        ledger: 5,
      });
    }
    expect((await accountDoc(purged.accountId))!.purge_requested_at).toBeUndefined();
    // Its activity row goes with it; the sibling's stays.
    await eventually(
      async () => !(await activity().findOne({ _id: new Types.ObjectId(purged.accountId) })),
    );
    expect(await activity().findOne({ _id: new Types.ObjectId(sibling.accountId) })).not.toBeNull();
    // A webhook processed just before the delete records its account's activity after it: no row.
    await t.app.get(AccountsService).recordWebhookSeen(purged.accountId, new Date());
    expect(await activity().findOne({ _id: new Types.ObjectId(purged.accountId) })).toBeNull();

    // The dashboard that was watching learns about each deleted DM.
    const events = await stream.waitForEvents(
      (all) => all.filter((e) => e.event === 'dm.deleted').length >= 2,
    );
    const deleted = events
      .filter((e) => e.event === 'dm.deleted')
      .map((e) => JSON.parse(e.data!) as { _id: string; platform_account_id: string });
    expect(deleted.map((d) => d._id).sort()).toEqual(purged.dms.map((d) => String(d._id)).sort());
    expect(deleted.every((d) => d.platform_account_id === purged.accountId)).toBe(true);
    // Not replayable, so no id: a resume with Last-Event-ID is not moved past unsent changes.
    expect(events.filter((e) => e.event === 'dm.deleted').every((e) => e.id === undefined)).toBe(
      true,
    );
  });

  it('should keep the DMs when the account is deleted without purge', async () => {
    const userId = newUserId();
    const kept = await givenAccountWithDms(userId);

    await t.http().delete(`/accounts/${kept.accountId}`).set(t.bearer(userId)).expect(200);
    // Whatever is pending runs now; nothing is pending for this account.
    await t.app.get(AccountPurgeListener).resumePending();

    const doc = (await accountDoc(kept.accountId))!;
    expect(doc.is_deleted).toBe(true);
    expect(doc.purge_requested_at).toBeUndefined();
    expect(await everything(kept.accountId, kept.mids)).toEqual({
      dms: 2,
      conversations: 1,
      comments: 1,
      ledger: 5,
    });
  });

  it('should finish at start-up a purge that a restart cut short', async () => {
    const userId = newUserId();
    const interrupted = await givenAccountWithDms(userId);
    // What DELETE ?purge=true leaves behind when the process dies before the listener ran.
    await db()
      .collection('accounts')
      .updateOne(
        { _id: new Types.ObjectId(interrupted.accountId) },
        { $set: { is_deleted: true, purge_requested_at: new Date() } },
      );

    await t.app.get(AccountPurgeListener).resumePending();

    expect(await everything(interrupted.accountId, interrupted.mids)).toEqual({
      dms: 0,
      conversations: 0,
      comments: 0,
      ledger: 0,
    });
    expect((await accountDoc(interrupted.accountId))!.purged_at).toEqual(expect.any(Date));
  });

  it('should not purge an account that was reconnected before its purge ran', async () => {
    const userId = newUserId();
    const revived = await givenAccountWithDms(userId);
    // A stale marker on a live account (reconnected): its DMs are wanted again.
    await db()
      .collection('accounts')
      .updateOne(
        { _id: new Types.ObjectId(revived.accountId) },
        { $set: { purge_requested_at: new Date() } },
      );

    const listener = t.app.get(AccountPurgeListener);
    await listener.resumePending();
    await expect(
      listener.purge({ accountId: revived.accountId, userId, purge: true }),
    ).resolves.toBeNull();

    expect(await count('instagram_dms', revived.accountId)).toBe(2);
  });
});
