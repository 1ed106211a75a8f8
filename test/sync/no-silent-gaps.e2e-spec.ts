import { Types, type mongo } from 'mongoose';
import { DEFAULT_APP_FIELDS, type Business, type MetaSimulator } from '../../meta-simulator';
import { WEBHOOK_FIELDS } from '../../src/accounts/accounts.types';
import { ReconcileService } from '../../src/sync/reconcile.service';
import { newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { eventually } from '../webhook/webhook-helpers';
import {
  businessSends,
  connectThroughOAuth,
  type Doc,
  importFinished,
  startSyncApp,
} from './sync-helpers';

/** Counts printed at the end of the file (the issue asks for them). */
const report: Record<string, unknown> = {};

describe('No silent gaps (e2e)', () => {
  let app: TestApp;
  let meta: MetaSimulator;
  let reconcile: ReconcileService;
  let dms: mongo.Collection<Doc>;
  let convs: mongo.Collection<Doc>;

  beforeAll(async () => {
    ({ app, meta } = await startSyncApp());
    reconcile = app.app.get(ReconcileService);
    dms = app.connection.db!.collection('instagram_dms');
    convs = app.connection.db!.collection('instagram_conversations');
  });
  afterAll(async () => {
    await app?.close();
    await meta?.close();
    console.log(`[issue 8 counts] ${JSON.stringify(report)}`);
  });

  const get = (path: string, userId: string) => app.http().get(path).set(app.bearer(userId));
  const dmsOf = (accountId: string) => dms.find({ platform_account_id: accountId }).toArray();
  const distinctMids = (docs: Doc[]) => new Set(docs.map((d) => d.message_id as string)).size;

  /** An account whose webhook works, connected without the OAuth flow (no import). */
  async function connected(userId = newUserId()) {
    const biz: Business = meta.createBusiness();
    const account = await givenAccount(app, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
      username: biz.username,
      name: biz.name,
      // As the connect flow leaves it: subscribed, read back from Meta.
      extra: { subscribed_fields: [...WEBHOOK_FIELDS], subscription_checked_at: new Date() },
    });
    return { biz, userId, accountId: account.accountId };
  }

  /** Reconciles the accounts in a window of their own (later than every earlier call). */
  let windowOffset = 0;
  async function reconcileNow() {
    windowOffset += 1;
    return reconcile.runDue(new Date(Date.now() + windowOffset * 3_600_000));
  }
  /** One account only, as the job does it for each account it claims. */
  const reconcileOne = (a: { accountId: string; userId: string; biz: Business }) =>
    reconcile.reconcileAccount({ ...a, igId: a.biz.igId, status: 'active' });

  describe('history import', () => {
    it('should store the history of a connected account once, and nothing again on reconnect or re-import', async () => {
      const userId = newUserId();
      const biz = meta.createBusiness({ username: 'history_shop', name: 'History Shop' });
      const alice = meta.customer(biz, { name: 'Alice' });
      const bob = meta.customer(biz, { name: 'Bob' });
      const carol = meta.customer(biz, { name: 'Carol' });
      // Conversations that exist at Meta before igdm knows the account.
      const quiet = meta.dropDeliveries();
      await alice.sends('Do you have it in blue?');
      await businessSends(meta, biz, alice.igsid, 'Yes, we do.');
      await alice.sends('Great, I will order tomorrow');
      await bob.sendsImage();
      for (let i = 0; i < 25; i++) await carol.sends(`message ${i}`);
      quiet.clear();

      const accountId = await connectThroughOAuth(app, meta, userId, biz);
      const first = await importFinished(app, userId, accountId);
      expect(first).toMatchObject({
        state: 'done',
        trigger: 'connect',
        threads_done: 3,
        threads_truncated: 1,
        messages_seen: 24,
        messages_stored: 24,
        messages_known: 0,
        error_code: null,
      });
      expect(first.note).toMatch(/20 newest/);
      // Paced under Meta's 2 calls/s per account: no rate-limit error on the way.
      const conversationCalls = meta.requests({ endpoint: 'conversations', accountIgId: biz.igId });
      expect(conversationCalls).toHaveLength(4);
      expect(conversationCalls.filter((r) => r.status !== 200)).toEqual([]);

      const stored = await dmsOf(accountId);
      expect(stored).toHaveLength(24);
      expect(distinctMids(stored)).toBe(24);
      expect(stored.every((d) => d.source === 'import')).toBe(true);
      const aliceDms = stored.filter((d) => d.customer_id === alice.igsid);
      expect(aliceDms.map((d) => [d.direction, d.text])).toEqual([
        ['inbound', 'Do you have it in blue?'],
        ['outbound', 'Yes, we do.'],
        ['inbound', 'Great, I will order tomorrow'],
      ]);
      expect(aliceDms[0]).toMatchObject({
        user_id: userId,
        ig_id: biz.igId,
        sender_id: alice.igsid,
        recipient_id: biz.igId,
        message_type: 'text',
        recipient_name: 'History Shop',
        is_deleted: false,
      });
      const image = stored.find((d) => d.customer_id === bob.igsid)!;
      expect(image.message_type).toBe('attachment');
      expect(image.attachments).toEqual([
        { type: 'image', url: expect.stringContaining('/cdn/'), url_fetched_at: expect.any(Date) },
      ]);
      // Only the 20 newest of Carol's 25 messages are detailed by Meta.
      const carolTexts = stored.filter((d) => d.customer_id === carol.igsid).map((d) => d.text);
      expect(carolTexts).toHaveLength(20);
      expect(carolTexts).not.toContain('message 4');
      expect(carolTexts).toContain('message 5');
      // The answered question is read; what came after the answer is not.
      const aliceThread = await convs.findOne({ _id: `${accountId}:${alice.igsid}` as never });
      expect(aliceThread).toMatchObject({ unread_count: 1 });

      const beforeReconnect = new Date(first.started_at as string);
      await connectThroughOAuth(app, meta, userId, biz);
      const second = await importFinished(app, userId, accountId, beforeReconnect);
      expect(second).toMatchObject({
        state: 'done',
        threads_done: 3,
        messages_stored: 0,
        messages_known: 24,
      });

      const post = await app.http().post(`/accounts/${accountId}/import`).set(app.bearer(userId));
      expect(post.status).toBe(202);
      expect(['running', 'done']).toContain(post.body.data.state);
      const third = await importFinished(app, userId, accountId, new Date(second.started_at));
      expect(third).toMatchObject({ state: 'done', trigger: 'manual', messages_stored: 0 });

      const after = await dmsOf(accountId);
      expect(after).toHaveLength(24);
      expect(distinctMids(after)).toBe(24);
      report.import = {
        first: pick(first),
        reconnect: pick(second),
        reimport: pick(third),
        dmsInDb: after.length,
        duplicates: after.length - distinctMids(after),
      };
    }, 150_000);

    it('should answer 404 for the import routes of another user’s account and 400 for a bad id', async () => {
      const { accountId } = await connected();
      const stranger = newUserId();
      expect((await get(`/accounts/${accountId}/import`, stranger)).status).toBe(404);
      const post = await app.http().post(`/accounts/${accountId}/import`).set(app.bearer(stranger));
      expect(post.status).toBe(404);
      expect(post.body.error.code).toBe('ACCOUNT_NOT_FOUND');
      expect((await get('/accounts/not-an-id/import', stranger)).status).toBe(400);
    });

    it('should report an account that was never imported as such', async () => {
      const { accountId, userId } = await connected();
      const res = await get(`/accounts/${accountId}/import`, userId);
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ state: 'never', threads_done: 0, messages_stored: 0 });
    });
  });

  describe('reconciliation', () => {
    it('should store exactly the deliveries the webhook missed, once, and stay quiet afterwards', async () => {
      const { biz, userId, accountId } = await connected();
      const ana = meta.customer(biz);
      const ben = meta.customer(biz);
      const plan: [typeof ana, boolean][] = [
        [ana, false],
        [ana, true],
        [ben, false],
        [ana, false],
        [ben, true],
        [ben, false],
        [ana, true],
        [ben, false],
      ];
      const dropped: string[] = [];
      for (const [i, [customer, drop]] of plan.entries()) {
        if (drop) meta.dropDeliveries({ count: 1 });
        const { mid } = await customer.sends(`order question ${i}`);
        if (drop) dropped.push(mid!);
      }
      const M = plan.length;
      const N = dropped.length;
      await eventually(async () => (await dmsOf(accountId)).length === M - N);

      const tick = await reconcileNow();
      expect(tick.failed).toBe(0);
      const docs = await dmsOf(accountId);
      expect(docs).toHaveLength(M);
      expect(distinctMids(docs)).toBe(M);
      const reconciled = docs.filter((d) => d.source === 'reconcile');
      expect(reconciled.map((d) => d.message_id).sort()).toEqual([...dropped].sort());
      expect(reconciled.every((d) => d.read === false && d.direction === 'inbound')).toBe(true);
      const thread = await convs.findOne({ _id: `${accountId}:${ana.igsid}` as never });
      expect(thread).toMatchObject({ unread_count: 4 });

      const detail = await get(`/accounts/${accountId}`, userId);
      expect(detail.body.data.health.reconciliation.last_run).toMatchObject({
        status: 'ok',
        threads_checked: 2,
        messages_checked: M,
        stored: N,
        already_known: M - N,
        subscription_restored: false,
      });
      expect(detail.body.data.health.problems).toContain('MISSED_WEBHOOKS_BACKFILLED');
      expect(detail.body.data.dm_counts).toEqual({ total: M, unread: M });

      // Meta retries one of the dropped deliveries after reconciliation stored it.
      const late = meta
        .deliveries({ status: 'dropped' })
        .find((d) => JSON.parse(d.body).entry[0].messaging[0].message.mid === dropped[0])!;
      const redelivered = await meta.deliver(late.body);
      expect(redelivered.attempts[0].status).toBe(200);
      await eventually(() =>
        app.connection
          .db!.collection('webhook_deliveries')
          .findOne({ raw_body: late.body, status: 'processed' }),
      );
      const second = await reconcileNow();
      expect(second.failed).toBe(0);
      const afterAll = await dmsOf(accountId);
      expect(afterAll).toHaveLength(M);
      expect(distinctMids(afterAll)).toBe(M);
      const again = await get(`/accounts/${accountId}`, userId);
      expect(again.body.data.health.reconciliation).toMatchObject({
        last_run: { stored: 0, already_known: M },
        total_stored: N,
      });
      expect(again.body.data.health.reconciliation.recent_runs).toHaveLength(2);
      report.reconcile = {
        M,
        N,
        firstRunStored: N,
        secondRunStored: 0,
        dmsInDb: afterAll.length,
        duplicates: afterAll.length - distinctMids(afterAll),
      };
    });

    it('should let one instance reconcile an account per window when runs overlap', async () => {
      await connected();
      const at = new Date(Date.now() + 50 * 3_600_000);
      const [a, b] = await Promise.all([reconcile.runDue(at), reconcile.runDue(at)]);
      expect(a.accounts).toBe(b.accounts);
      expect(a.claimedElsewhere + b.claimedElsewhere).toBe(a.accounts);
      const done = (t: typeof a) => t.reconciled + t.failed + t.skipped;
      expect(done(a) + done(b)).toBe(a.accounts);
      report.leases = { accounts: a.accounts, runsA: done(a), runsB: done(b) };
    });

    it('should restore a drifted webhook subscription and report one it cannot restore', async () => {
      const target = await connected();
      const { biz, userId, accountId } = target;
      await reconcileOne(target);

      meta.driftSubscription(biz, ['messages']);
      await reconcileOne(target);
      expect(biz.subscribedFields.sort()).toEqual([...WEBHOOK_FIELDS].sort());
      const restored = (await get(`/accounts/${accountId}`, userId)).body.data;
      expect(restored.health.reconciliation.last_run).toMatchObject({
        subscription_restored: true,
        subscription_missing: WEBHOOK_FIELDS.filter((f) => f !== 'messages'),
      });
      expect(restored.health.subscription).toMatchObject({ missing: [] });
      expect(restored.health.problems).toContain('SUBSCRIPTION_DRIFT_RESTORED');
      const resubscriptions = () =>
        meta.requests({ endpoint: 'subscribed_apps', method: 'POST', accountIgId: biz.igId })
          .length;
      const requestsBefore = resubscriptions();

      // The app itself loses `comments`: re-subscribing cannot bring it back.
      meta.setAppFields(DEFAULT_APP_FIELDS.filter((f) => f !== 'comments'));
      await reconcileOne(target);
      await reconcileOne(target);
      const stuck = (await get(`/accounts/${accountId}`, userId)).body.data.health;
      expect(stuck.subscription.missing).toEqual(['comments']);
      expect(stuck.problems).toContain('SUBSCRIPTION_INCOMPLETE');
      // One re-subscription for the new drift, none for the same outcome again.
      expect(resubscriptions()).toBe(requestsBefore + 1);
      meta.setAppFields([...DEFAULT_APP_FIELDS]);
      meta.driftSubscription(biz, [...WEBHOOK_FIELDS]);
      report.subscription = {
        driftRestored: true,
        unrestorableReported: stuck.subscription.missing,
      };
    });
  });

  describe('fresh media links', () => {
    async function imageDm() {
      const { biz, userId, accountId } = await connected();
      const customer = meta.customer(biz);
      const { mid } = await customer.sendsImage();
      // Waits for the name fill too: a test's own write to the DM must not race the app's last one.
      const dm = await eventually(() =>
        dms.findOne({ message_id: mid, sender_name: { $exists: true } }),
      );
      return { biz, userId, accountId, dm };
    }
    const open = (userId: string, id: unknown, n: unknown) =>
      get(`/instagram-dms/${String(id)}/attachments/${String(n)}`, userId);

    it('should redirect to the stored URL while it works and to a fresh one once it expired', async () => {
      const { userId, dm } = await imageDm();
      const storedUrl = dm.attachments[0].url as string;
      const reads = () => meta.requests({ endpoint: 'message' }).length;
      const readsBefore = reads();

      const live = await open(userId, dm._id, 0);
      expect(live.status).toBe(302);
      expect(live.headers.location).toBe(storedUrl);
      expect(live.headers['cache-control']).toBe('no-store');
      expect(reads()).toBe(readsBefore);

      meta.advanceClock(2 * 3_600_000); // past the CDN's signature lifetime
      expect((await fetch(storedUrl)).status).toBe(403);
      const refreshed = await open(userId, dm._id, 0);
      expect(refreshed.status).toBe(302);
      const freshUrl = refreshed.headers.location;
      expect(freshUrl).not.toBe(storedUrl);
      const media = await fetch(freshUrl);
      expect(media.status).toBe(200);
      expect(media.headers.get('content-type')).toBe('image/png');
      expect(reads()).toBe(readsBefore + 1);
      const after = await dms.findOne({ _id: dm._id });
      expect(after!.attachments[0].url).toBe(freshUrl);
      expect(after!.attachments[0].url_fetched_at.getTime()).toBeGreaterThan(
        dm.attachments[0].url_fetched_at.getTime(),
      );
      report.media = { expiredStatus: 403, refreshedStatus: media.status, graphReads: 1 };
    });

    it('should re-read a URL older than the TTL without probing it', async () => {
      const { userId, dm } = await imageDm();
      const old = new Date(Date.now() - 2 * 86_400_000);
      await dms.updateOne(
        { _id: dm._id },
        { $set: { attachments: [{ ...dm.attachments[0], url_fetched_at: old }] } },
      );
      const probes = () => meta.requests({ endpoint: 'cdn', method: 'HEAD' }).length;
      const reads = () => meta.requests({ endpoint: 'message' }).length;
      const [probesBefore, readsBefore] = [probes(), reads()];
      const res = await open(userId, dm._id, 0);
      expect(res.status).toBe(302);
      expect(res.headers.location).not.toBe(dm.attachments[0].url);
      expect(probes()).toBe(probesBefore);
      expect(reads()).toBe(readsBefore + 1);
    });

    it('should answer 404 for another user’s DM, a missing one or a missing attachment, 400 for bad input', async () => {
      const { userId, dm } = await imageDm();
      const stranger = newUserId();
      await connected(stranger);
      const other = await open(stranger, dm._id, 0);
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('DM_NOT_FOUND');
      expect((await open(userId, '65a1f0c2e4b0a1b2c3d4e5f6', 0)).status).toBe(404);
      const outOfRange = await open(userId, dm._id, 3);
      expect(outOfRange.status).toBe(404);
      expect(outOfRange.body.error.code).toBe('ATTACHMENT_NOT_FOUND');
      expect((await open(userId, 'not-an-id', 0)).status).toBe(400);
      expect((await open(userId, dm._id, 'x')).status).toBe(400);
      expect((await app.http().get(`/instagram-dms/${String(dm._id)}/attachments/0`)).status).toBe(
        401,
      );
    });
  });

  describe('account health', () => {
    it('should report webhook, Graph, token, subscription, deliveries and DM counts per account', async () => {
      const userId = newUserId();
      const biz = meta.createBusiness();
      const customer = meta.customer(biz);
      // A delivery that arrived before igdm knew the account, kept for a replay on connect
      // (written as the worker leaves it; an account inserted without the connect flow is not
      // replayed).
      meta.dropDeliveries({ count: 1 });
      const { delivery } = await customer.sends('anyone there?');
      await app.connection.db!.collection('webhook_deliveries').insertOne({
        raw_body: delivery.body,
        received_at: new Date(),
        status: 'processed',
        attempts: 1,
        processed_at: new Date(),
        unroutable_ids: [biz.igId],
      });
      const { accountId } = await givenAccount(app, {
        userId,
        igId: biz.igId,
        accessToken: biz.accessToken,
        username: biz.username,
      });
      await customer.sends('hello again');
      await eventually(async () => (await dmsOf(accountId)).length === 1);
      const stillUnroutable = await get(`/accounts/${accountId}`, userId);
      expect(stillUnroutable.body.data.health.deliveries).toEqual({ unroutable: 1, failed: 0 });
      // A delivery that failed every processing attempt (its accounts recorded at the ack).
      await app.connection.db!.collection('webhook_deliveries').insertOne({
        raw_body: JSON.stringify({ object: 'instagram', entry: [{ id: biz.igId, time: 1 }] }),
        entry_ids: [biz.igId],
        received_at: new Date(),
        status: 'failed',
        attempts: 5,
        processed_at: new Date(),
      });
      await reconcileOne({ accountId, userId, biz });

      const detail = await get(`/accounts/${accountId}`, userId);
      expect(detail.status).toBe(200);
      const data = detail.body.data;
      // Reconciliation found the message that had no account to go to.
      expect(data.dm_counts).toEqual({ total: 2, unread: 2 });
      expect(data.health).toMatchObject({
        account_id: accountId,
        ok: false,
        last_webhook_at: expect.any(String),
        last_graph_success_at: expect.any(String),
        token: { refresh_state: 'ok', expires_at: expect.any(String) },
        subscription: { missing: [], checked_at: expect.any(String) },
        deliveries: { unroutable: 1, failed: 1 },
        import: { state: 'never' },
        reconciliation: { last_run: { status: 'ok' } },
      });
      expect(data.health.subscription.fields).toEqual(expect.arrayContaining([...WEBHOOK_FIELDS]));
      expect(data.health.problems.sort()).toEqual([
        'FAILED_DELIVERIES',
        'MISSED_WEBHOOKS_BACKFILLED',
        'UNROUTABLE_DELIVERIES',
      ]);

      // Token conditions come from the account document.
      const second = await connected(userId);
      await app.connection
        .db!.collection('accounts')
        .updateOne(
          { _id: new Types.ObjectId(second.accountId) },
          { $set: { token_expires_at: new Date(Date.now() - 60_000) } },
        );
      const summary = await get('/accounts/health', userId);
      expect(summary.status).toBe(200);
      expect(summary.body.data).toMatchObject({
        ok: false,
        accounts_total: 2,
        accounts_with_problems: 2,
      });
      const expired = summary.body.data.accounts.find(
        (a: { account_id: string }) => a.account_id === second.accountId,
      );
      expect(expired.token.refresh_state).toBe('expired');
      expect(expired.problems).toEqual(['TOKEN_EXPIRED']);
      report.health = {
        dmCounts: data.dm_counts,
        deliveries: data.health.deliveries,
        problems: data.health.problems,
        expiredTokenProblems: expired.problems,
      };
    });

    it('should show each user only their own accounts’ health', async () => {
      const mine = await connected();
      const theirs = await connected();
      const summary = await get('/accounts/health', mine.userId);
      expect(summary.body.data.accounts.map((a: { account_id: string }) => a.account_id)).toEqual([
        mine.accountId,
      ]);
      expect((await get(`/accounts/${theirs.accountId}`, mine.userId)).status).toBe(404);
      expect(
        (await get(`/accounts/${mine.accountId}`, mine.userId)).body.data.health,
      ).toMatchObject({ ok: true, problems: [] });
    });
  });
});

function pick(status: Record<string, unknown>) {
  const { threads_done, threads_truncated, messages_seen, messages_stored, messages_known } =
    status;
  return { threads_done, threads_truncated, messages_seen, messages_stored, messages_known };
}
