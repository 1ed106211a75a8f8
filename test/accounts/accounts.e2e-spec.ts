import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { JwtService } from '@nestjs/jwt';
import { getModelToken } from '@nestjs/mongoose';
import { hkdfSync, randomBytes } from 'node:crypto';
import { Model, Types } from 'mongoose';
import {
  MetaSimulator,
  startMetaSimulator,
  type Business,
  DEFAULT_APP_FIELDS,
} from '../../meta-simulator';
import { AccountTokensService } from '../../src/accounts/account-tokens.service';
import { AccountWriteLock } from '../../src/accounts/account-write-lock';
import { AccountsService } from '../../src/accounts/accounts.service';
import { WEBHOOK_FIELDS } from '../../src/accounts/accounts.types';
import { Account } from '../../src/accounts/schemas/account.schema';
import { RefreshLease } from '../../src/accounts/schemas/refresh-lease.schema';
import { TokenCipher } from '../../src/accounts/token-cipher';
import { InstagramGraphService } from '../../src/instagram-graph/instagram-graph.service';
import { createTestApp, newUserId, TestApp } from '../support/e2e';
import { givenAccount, givenTenant, storedAccount } from '../support/factories';

const DAY_MS = 24 * 3_600_000;

describe('accounts', () => {
  let sim: MetaSimulator;
  let t: TestApp;
  let accounts: AccountsService;
  let tokens: AccountTokensService;
  let graph: InstagramGraphService;
  let cipher: TokenCipher;
  const events: { name: string; payload: any }[] = [];

  beforeAll(async () => {
    // The simulator first: the app reads its URLs from the environment when AppModule loads.
    sim = await startMetaSimulator();
    t = await createTestApp({
      INSTAGRAM_GRAPH_URL: sim.graphUrl,
      INSTAGRAM_API_URL: sim.apiUrl,
      INSTAGRAM_WWW_URL: sim.wwwUrl,
      INSTAGRAM_CLIENT_ID: sim.clientId,
      INSTAGRAM_CLIENT_SECRET: sim.appSecret,
    });
    accounts = t.app.get(AccountsService);
    tokens = t.app.get(AccountTokensService);
    graph = t.app.get(InstagramGraphService);
    cipher = new TokenCipher(t.env.ENCRYPTION_KEY);
    const emitter = t.app.get(EventEmitter2);
    for (const name of ['account.connected', 'account.deleted']) {
      emitter.on(name, (payload: unknown) => events.push({ name, payload }));
    }
  });

  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  const db = () => t.connection.db!;
  const accountDoc = (id: string) => storedAccount(t, id);
  const settingsDoc = (userId: string) =>
    db().collection('user_settings').findOne({ user_id: userId, platform: 'instagram' });

  /** GET /accounts/instagram/connect, then the browser at the simulator's authorize page. */
  async function authorize(
    userId: string,
    biz: Business,
    opts: { deny?: boolean; grant?: string[] } = {},
  ): Promise<URL> {
    const res = await t.http().get('/accounts/instagram/connect').set(t.bearer(userId)).expect(200);
    sim.nextAuthorization({ business: biz, deny: opts.deny, grant: opts.grant });
    const meta = await fetch(res.body.data.url as string, { redirect: 'manual' });
    expect(meta.status).toBe(302);
    return new URL(meta.headers.get('location')!);
  }

  /**
   * Follows Instagram's redirect to our callback and, when it hands out a connect ticket, finishes
   * as `userId`'s dashboard does (POST …/connect/finish). Returns the outcome in the callback's
   * terms: `instagram=connected&account_id=…[&missing_scopes=…]` or `instagram=error&code=…`.
   */
  async function callback(search: string, userId?: string): Promise<URLSearchParams> {
    const res = await t.http().get(`/accounts/instagram/callback${search}`).expect(302);
    const location = new URL(res.headers.location);
    expect(location.origin).toBe(t.env.FRONTEND_URL);
    if (location.searchParams.get('instagram') !== 'authorized' || !userId)
      return location.searchParams;
    const finish = await t
      .http()
      .post('/accounts/instagram/connect/finish')
      .set(t.bearer(userId))
      .send({ connect_ticket: location.searchParams.get('connect_ticket') });
    if (finish.status !== 200)
      return new URLSearchParams({ instagram: 'error', code: finish.body.error.code });
    const { account_id, missing_scopes } = finish.body.data as {
      account_id: string;
      missing_scopes: string[];
    };
    return new URLSearchParams({
      instagram: 'connected',
      account_id,
      ...(missing_scopes.length ? { missing_scopes: missing_scopes.join(',') } : {}),
    });
  }

  async function connect(userId: string, biz: Business): Promise<URLSearchParams> {
    return callback((await authorize(userId, biz)).search, userId);
  }

  describe('connect', () => {
    it('should give an authorize URL with client id, redirect URI, scopes and a state', async () => {
      const userId = newUserId();
      const res = await t
        .http()
        .get('/accounts/instagram/connect')
        .set(t.bearer(userId))
        .expect(200);
      const url = new URL(res.body.data.url);
      expect(`${url.origin}${url.pathname}`).toBe(`${sim.wwwUrl}/oauth/authorize`);
      expect(url.searchParams.get('client_id')).toBe(sim.clientId);
      expect(url.searchParams.get('redirect_uri')).toBe(
        `${t.env.API_URL}/accounts/instagram/callback`,
      );
      expect(url.searchParams.get('response_type')).toBe('code');
      expect(url.searchParams.get('scope')!.split(',')).toEqual([
        'instagram_business_basic',
        'instagram_business_manage_messages',
        'instagram_business_manage_comments',
      ]);
      expect(url.searchParams.get('state')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('should need a bearer token for the connect URL', async () => {
      await t.http().get('/accounts/instagram/connect').expect(401);
    });

    it('should store, subscribe and enable the account from the code to the redirect', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness({ username: 'connect_shop', name: 'Connect Shop' });
      const before = events.length;

      const outcome = await connect(userId, biz);

      expect(outcome.get('instagram')).toBe('connected');
      const accountId = outcome.get('account_id')!;
      const doc = (await accountDoc(accountId))!;
      expect(doc).toMatchObject({
        user_id: userId,
        platform: 'meta_instagram',
        expires_in: expect.any(Number),
        instagram_data: {
          ig_id: biz.igId,
          id: biz.igId,
          username: 'connect_shop',
          app_scoped_id: biz.appScopedId,
        },
        meta: { id: biz.igId, name: 'Connect Shop', username: 'connect_shop' },
        status: 'active',
        scopes: expect.arrayContaining([
          'instagram_business_basic',
          'instagram_business_manage_messages',
        ]),
        created_at: expect.any(Date),
        updated_at: expect.any(Date),
        token_refreshed_at: expect.any(Date),
      });
      expect(doc.instagram_data.app_scoped_id).not.toBe(biz.igId);
      expect(doc.access_token).toMatch(/^v2:/);
      // The long-lived token the simulator issued last is the one stored.
      expect(cipher.decrypt(doc.access_token, String(doc._id))).toBe(biz.accessToken);
      expect(doc.token_expires_at.getTime()).toBeGreaterThan(Date.now() + 59 * DAY_MS);
      expect([...doc.subscribed_fields].sort()).toEqual([...WEBHOOK_FIELDS].sort());
      expect([...biz.subscribedFields].sort()).toEqual([...WEBHOOK_FIELDS].sort());

      const settings = (await settingsDoc(userId))!;
      expect(settings).toMatchObject({ is_active: true, is_deleted: false });
      expect(settings.configs).toEqual([
        { config_name: 'Connect Shop', account_id: accountId, is_active: true, is_deleted: false },
      ]);

      expect(events.slice(before)).toEqual([
        { name: 'account.connected', payload: { accountId, userId, igId: biz.igId } },
      ]);

      const res = await t.http().get(`/accounts/${accountId}`).set(t.bearer(userId)).expect(200);
      expect(res.body).toEqual({
        success: true,
        data: expect.objectContaining({
          id: accountId,
          ig_id: biz.igId,
          username: 'connect_shop',
          name: 'Connect Shop',
          status: 'active',
          status_reason: null,
          enabled: true,
          subscribed_fields: expect.arrayContaining([...WEBHOOK_FIELDS]),
        }),
      });
      expect(JSON.stringify(res.body)).not.toContain(biz.accessToken);
      expect(JSON.stringify(res.body)).not.toContain('access_token');

      const routed = await accounts.resolveForWebhook([biz.igId]);
      expect(routed).toEqual({
        accountId,
        userId,
        igId: biz.igId,
        username: 'connect_shop',
        name: 'Connect Shop',
        ingestEnabled: true,
        status: 'active',
      });
    });

    it('should record only the webhook fields Meta really kept', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      sim.setAppFields(DEFAULT_APP_FIELDS.filter((f) => f !== 'comments' && f !== 'message_edit'));
      try {
        const outcome = await connect(userId, biz);
        const doc = (await accountDoc(outcome.get('account_id')!))!;
        expect(doc.subscribed_fields).not.toContain('comments');
        expect(doc.subscribed_fields).not.toContain('message_edit');
        expect(doc.subscribed_fields).toContain('messages');
      } finally {
        sim.setAppFields([...DEFAULT_APP_FIELDS]);
      }
    });

    it('should update the same account when its owner reconnects', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const first = await connect(userId, biz);
      await db()
        .collection('accounts')
        .updateOne(
          { _id: new Types.ObjectId(first.get('account_id')!) },
          { $set: { status: 'needs_reauth', status_reason: 'revoked' } },
        );

      const second = await connect(userId, biz);

      expect(second.get('account_id')).toBe(first.get('account_id'));
      expect(
        await db().collection('accounts').countDocuments({ 'instagram_data.ig_id': biz.igId }),
      ).toBe(1);
      const doc = (await accountDoc(second.get('account_id')!))!;
      expect(doc.status).toBe('active');
      expect(doc.status_reason).toBeUndefined();
      expect(cipher.decrypt(doc.access_token, String(doc._id))).toBe(biz.accessToken);
      expect((await settingsDoc(userId))!.configs).toHaveLength(1);
    });

    it('should redirect with OAUTH_DENIED and store nothing when consent is denied', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const meta = await authorize(userId, biz, { deny: true });
      expect(meta.searchParams.get('error')).toBe('access_denied');

      const outcome = await callback(meta.search, userId);

      expect(Object.fromEntries(outcome)).toEqual({ instagram: 'error', code: 'OAUTH_DENIED' });
      expect(await db().collection('accounts').countDocuments({ user_id: userId })).toBe(0);
    });

    it('should redirect with OAUTH_STATE_INVALID for a forged state', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const meta = await authorize(userId, biz);
      const forged = new JwtService({ secret: t.env.JWT_SECRET }).sign({ sub: userId, nonce: 'x' });
      const exchanges = sim.requests({ endpoint: 'token' }).length;

      const outcome = await callback(
        `?code=${meta.searchParams.get('code')}&state=${forged}`,
        userId,
      );

      expect(Object.fromEntries(outcome)).toEqual({
        instagram: 'error',
        code: 'OAUTH_STATE_INVALID',
      });
      expect(await db().collection('accounts').countDocuments({ user_id: userId })).toBe(0);
      expect(sim.requests({ endpoint: 'token' }).length).toBe(exchanges);
    });

    it('should redirect with OAUTH_STATE_INVALID when the state is missing', async () => {
      const outcome = await callback('?code=abc');
      expect(Object.fromEntries(outcome)).toEqual({
        instagram: 'error',
        code: 'OAUTH_STATE_INVALID',
      });
    });

    it('should refuse a replayed state', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const meta = await authorize(userId, biz);
      const first = await callback(meta.search, userId);
      expect(first.get('instagram')).toBe('connected');

      const again = await callback(meta.search, userId);

      expect(Object.fromEntries(again)).toEqual({
        instagram: 'error',
        code: 'OAUTH_STATE_INVALID',
      });
    });

    it('should refuse an expired state', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const meta = await authorize(userId, biz);
      // Signed exactly as the service does, but issued 11 minutes ago.
      const key = Buffer.from(
        hkdfSync('sha256', t.env.JWT_SECRET, 'igdm', 'igdm oauth state v1', 32),
      ).toString('base64');
      const expired = new JwtService({}).sign(
        {
          sub: userId,
          nonce: randomBytes(8).toString('hex'),
          iat: Math.floor(Date.now() / 1000) - 660,
        },
        { secret: key, expiresIn: 600, audience: 'igdm:instagram-connect' },
      );

      const outcome = await callback(
        `?code=${meta.searchParams.get('code')}&state=${expired}`,
        userId,
      );

      expect(Object.fromEntries(outcome)).toEqual({
        instagram: 'error',
        code: 'OAUTH_STATE_INVALID',
      });
      expect(await db().collection('accounts').countDocuments({ user_id: userId })).toBe(0);
    });

    it('should answer the finish with OAUTH_CODE_INVALID when Meta refuses the code', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const meta = await authorize(userId, biz);

      const outcome = await callback(
        `?code=not-a-code&state=${meta.searchParams.get('state')}`,
        userId,
      );

      expect(Object.fromEntries(outcome)).toEqual({
        instagram: 'error',
        code: 'OAUTH_CODE_INVALID',
      });
      expect(await db().collection('accounts').countDocuments({ user_id: userId })).toBe(0);
    });

    it('should answer the finish with META_ERROR and store nothing when /me fails', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const meta = await authorize(userId, biz);
      sim.fault({ endpoint: 'me', metaError: { code: 100, message: 'Unsupported get request' } });
      try {
        const outcome = await callback(meta.search, userId);
        expect(Object.fromEntries(outcome)).toEqual({ instagram: 'error', code: 'META_ERROR' });
      } finally {
        sim.clearFaults();
      }
      expect(await db().collection('accounts').countDocuments({ user_id: userId })).toBe(0);
    });

    it('should not let another user take over a connected account', async () => {
      const owner = newUserId();
      const intruder = newUserId();
      const biz = sim.createBusiness();
      const first = await connect(owner, biz);
      const accountId = first.get('account_id')!;
      const before = (await accountDoc(accountId))!;

      const outcome = await connect(intruder, biz);

      expect(Object.fromEntries(outcome)).toEqual({
        instagram: 'error',
        code: 'ACCOUNT_OWNED_BY_ANOTHER_USER',
      });
      const after = (await accountDoc(accountId))!;
      expect(after.user_id).toBe(owner);
      expect(after.access_token).toBe(before.access_token);
      expect(await db().collection('accounts').countDocuments({ user_id: intruder })).toBe(0);
      expect(await settingsDoc(intruder)).toBeNull();
    });
  });

  describe('connect review (issue 7)', () => {
    it('should record the granted scopes and report the missing ones', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      // The user unticks "manage comments" on Instagram's consent screen.
      const meta = await authorize(userId, biz, {
        grant: ['instagram_business_basic', 'instagram_business_manage_messages'],
      });

      const outcome = await callback(meta.search, userId);

      expect(outcome.get('instagram')).toBe('connected');
      expect(outcome.get('missing_scopes')).toBe('instagram_business_manage_comments');
      const accountId = outcome.get('account_id')!;
      expect((await accountDoc(accountId))!.scopes).toEqual([
        'instagram_business_basic',
        'instagram_business_manage_messages',
      ]);
      const res = await t.http().get(`/accounts/${accountId}`).set(t.bearer(userId)).expect(200);
      expect(res.body.data).toMatchObject({
        scopes: ['instagram_business_basic', 'instagram_business_manage_messages'],
        missing_scopes: ['instagram_business_manage_comments'],
      });
    });

    it('should report no missing scope after a full grant, and unknown for a legacy account', async () => {
      const userId = newUserId();
      const outcome = await connect(userId, sim.createBusiness());
      expect(outcome.has('missing_scopes')).toBe(false);
      const full = await t
        .http()
        .get(`/accounts/${outcome.get('account_id')}`)
        .set(t.bearer(userId))
        .expect(200);
      expect(full.body.data.missing_scopes).toEqual([]);

      const legacy = await givenAccount(t, {
        userId,
        igId: `1784${Date.now()}8`,
        accessToken: 'tok',
      });
      const res = await t
        .http()
        .get(`/accounts/${legacy.accountId}`)
        .set(t.bearer(userId))
        .expect(200);
      expect(res.body.data).toMatchObject({ scopes: [], missing_scopes: null });
    });

    it('should let only one of two users connecting the same account at once have it', async () => {
      const biz = sim.createBusiness();
      const [a, b] = [newUserId(), newUserId()];
      const [metaA, metaB] = [await authorize(a, biz), await authorize(b, biz)];
      // A slow subscription call holds each connect between its ownership check and its write.
      const slow = sim.fault({
        endpoint: 'subscribed_apps',
        latencyMs: 150,
        accountIgId: biz.igId,
      });

      const outcomes = await Promise.all([
        callback(metaA.search, a),
        callback(metaB.search, b),
      ]).finally(() => slow.clear());

      expect(outcomes.map((o) => o.get('instagram') ?? '').sort()).toEqual(['connected', 'error']);
      expect(outcomes.find((o) => o.get('instagram') === 'error')!.get('code')).toBe(
        'ACCOUNT_OWNED_BY_ANOTHER_USER',
      );
      const live = await db()
        .collection('accounts')
        .find({ 'instagram_data.ig_id': biz.igId, is_deleted: { $ne: true } })
        .toArray();
      expect(live).toHaveLength(1);
      const winner = outcomes.find((o) => o.get('instagram') === 'connected')!;
      expect(String(live[0]._id)).toBe(winner.get('account_id'));
      expect((await accounts.resolveForWebhook([biz.igId]))!.userId).toBe(live[0].user_id);
    });

    it('should keep one account when its owner completes two connects at once', async () => {
      const userId = newUserId();
      const biz = sim.createBusiness();
      const [first, second] = [await authorize(userId, biz), await authorize(userId, biz)];

      const outcomes = await Promise.all([
        callback(first.search, userId),
        callback(second.search, userId),
      ]);

      expect(outcomes.map((o) => o.get('instagram'))).toEqual(['connected', 'connected']);
      expect(outcomes[0].get('account_id')).toBe(outcomes[1].get('account_id'));
      expect(
        await db().collection('accounts').countDocuments({ 'instagram_data.ig_id': biz.igId }),
      ).toBe(1);
      expect((await settingsDoc(userId))!.configs).toHaveLength(1);
    });
  });

  describe('token refresh', () => {
    /** An account whose simulator token is two days old and whose stored expiry is `expiresInDays` away. */
    async function givenAgedAccount(expiresInDays: number) {
      const biz = sim.createBusiness();
      sim.setTokenTimes(biz, {
        createdAt: sim.now() - 2 * DAY_MS,
        expiresAt: sim.now() + expiresInDays * DAY_MS,
      });
      const oldToken = biz.accessToken;
      const given = await givenAccount(t, {
        userId: newUserId(),
        igId: biz.igId,
        accessToken: oldToken,
        extra: {
          token_expires_at: new Date(Date.now() + expiresInDays * DAY_MS),
          token_refreshed_at: new Date(Date.now() - 2 * DAY_MS),
        },
      });
      return { biz, oldToken, ...given };
    }
    const refreshCalls = () => sim.requests({ endpoint: 'refresh' }).length;

    it('should refresh a token that expires within the margin and leave a fresh one alone', async () => {
      const expiring = await givenAgedAccount(5);
      const fresh = await givenAgedAccount(50);
      const calls = refreshCalls();

      const run = await tokens.refreshExpiringTokens();

      expect(run).toEqual({ refreshed: 1, failed: 0, needsReauth: 0 });
      expect(refreshCalls() - calls).toBe(1);
      const doc = (await accountDoc(expiring.accountId))!;
      expect(cipher.decrypt(doc.access_token, String(doc._id))).toBe(expiring.biz.accessToken);
      expect(expiring.biz.accessToken).not.toBe(expiring.oldToken);
      expect(doc.token_expires_at.getTime()).toBeGreaterThan(Date.now() + 59 * DAY_MS);
      expect(doc.token_refreshed_at.getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect(doc.refresh_lease_until).toBeUndefined();
      const untouched = (await accountDoc(fresh.accountId))!;
      expect(cipher.decrypt(untouched.access_token, String(untouched._id))).toBe(fresh.oldToken);
    });

    it('should refresh each account once when two instances run at the same time', async () => {
      const a = await givenAgedAccount(3);
      const b = await givenAgedAccount(4);
      const other = new AccountTokensService(
        t.app.get<Model<Account>>(getModelToken(Account.name)),
        t.app.get<Model<RefreshLease>>(getModelToken(RefreshLease.name)),
        graph,
        new AccountWriteLock(), // another process: its own lock
        t.app.get(ConfigService),
      );
      expect(other.instanceId).not.toBe(tokens.instanceId);
      const calls = refreshCalls();

      const runs = await Promise.all([
        tokens.refreshExpiringTokens(),
        other.refreshExpiringTokens(),
        tokens.refreshExpiringTokens(),
      ]);

      expect(runs.reduce((n, r) => n + r.refreshed, 0)).toBe(2);
      expect(refreshCalls() - calls).toBe(2);
      for (const given of [a, b]) {
        expect(
          cipher.decrypt((await accountDoc(given.accountId))!.access_token, given.accountId),
        ).toBe(given.biz.accessToken);
      }
    });

    it('should leave an account leased by a live instance alone and take over a dead one', async () => {
      const held = await givenAgedAccount(2);
      const orphaned = await givenAgedAccount(2);
      const leases = db().collection('account_refresh_leases');
      await leases.insertMany([
        // Another instance is refreshing this one right now.
        {
          _id: held.accountId as never,
          owner: 'other-instance',
          until: new Date(Date.now() + 60_000),
        },
        // This one's instance died mid-refresh: its lease ran out.
        {
          _id: orphaned.accountId as never,
          owner: 'dead-instance',
          until: new Date(Date.now() - 1),
        },
      ]);

      const run = await tokens.refreshExpiringTokens();

      expect(run.refreshed).toBe(1);
      expect(cipher.decrypt((await accountDoc(held.accountId))!.access_token, held.accountId)).toBe(
        held.oldToken,
      );
      expect(
        cipher.decrypt((await accountDoc(orphaned.accountId))!.access_token, orphaned.accountId),
      ).toBe(orphaned.biz.accessToken);
      expect(await leases.findOne({ _id: orphaned.accountId as never })).toBeNull();
      await leases.deleteOne({ _id: held.accountId as never });
    });

    it('should refresh an account now through POST /accounts/:id/refresh', async () => {
      const given = await givenAgedAccount(30);
      const res = await t
        .http()
        .post(`/accounts/${given.accountId}/refresh`)
        .set(t.bearer(given.userId))
        .expect(200);
      expect(res.body.data.status).toBe('active');
      expect(new Date(res.body.data.token_expires_at).getTime()).toBeGreaterThan(
        Date.now() + 59 * DAY_MS,
      );
      expect(
        cipher.decrypt((await accountDoc(given.accountId))!.access_token, given.accountId),
      ).toBe(given.biz.accessToken);
    });

    it('should not write a refreshed token back into an account deleted while Meta answered', async () => {
      const given = await givenAgedAccount(30);
      const calls = refreshCalls();
      const slow = sim.fault({ endpoint: 'refresh', latencyMs: 800, accountIgId: given.biz.igId });
      const refreshing = t
        .http()
        .post(`/accounts/${given.accountId}/refresh`)
        .set(t.bearer(given.userId))
        .then((res) => res);
      const deadline = Date.now() + 10_000;
      while (refreshCalls() === calls && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      await t.http().delete(`/accounts/${given.accountId}`).set(t.bearer(given.userId)).expect(200);

      const refreshed = await refreshing.finally(() => slow.clear());

      expect(refreshed.status).toBe(404);
      expect(refreshed.body.error.code).toBe('ACCOUNT_NOT_FOUND');
      const doc = (await accountDoc(given.accountId))!;
      expect(doc.is_deleted).toBe(true);
      expect(doc.access_token).toBeUndefined();
      expect(doc.status).toBe('disconnected');
    });

    it('should refuse to refresh a token younger than 24 hours', async () => {
      const { userId, account } = await givenTenant(t, sim);
      const { accountId } = account;
      const calls = refreshCalls();
      const res = await t
        .http()
        .post(`/accounts/${accountId}/refresh`)
        .set(t.bearer(userId))
        .expect(409);
      expect(res.body.error.code).toBe('TOKEN_TOO_RECENT');
      expect(refreshCalls()).toBe(calls);
    });
  });

  describe('reauth', () => {
    it('should mark the account needs_reauth when Meta answers 190 and stop its calls', async () => {
      const { biz, userId, account } = await givenTenant(t, sim);
      const { accountId } = account;
      sim.invalidateToken(biz);

      const acct = await accounts.getGraphAccount(accountId);
      await expect(graph.getSubscribedApps(acct)).rejects.toMatchObject({
        code: 'ACCOUNT_REAUTH_REQUIRED',
      });

      let data: any;
      for (let i = 0; i < 50; i++) {
        data = (await t.http().get(`/accounts/${accountId}`).set(t.bearer(userId)).expect(200)).body
          .data;
        if (data.status === 'needs_reauth') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(data.status).toBe('needs_reauth');
      expect(data.status_reason).toEqual(expect.stringContaining('190'));
      await expect(accounts.getGraphAccount(accountId)).rejects.toMatchObject({
        status: 409,
        code: 'ACCOUNT_REAUTH_REQUIRED',
      });
      await expect(accounts.getSendableAccount({ id: userId }, accountId)).rejects.toMatchObject({
        code: 'ACCOUNT_REAUTH_REQUIRED',
      });
      expect((await accounts.resolveForWebhook([biz.igId]))!.status).toBe('needs_reauth');
    });

    it('should mark the account needs_reauth when Meta refuses to refresh its token', async () => {
      const biz = sim.createBusiness();
      sim.setTokenTimes(biz, { createdAt: sim.now() - 2 * DAY_MS });
      sim.invalidateToken(biz);
      const { accountId } = await givenAccount(t, {
        userId: newUserId(),
        igId: biz.igId,
        accessToken: biz.accessToken,
        extra: {
          token_expires_at: new Date(Date.now() + DAY_MS),
          token_refreshed_at: new Date(Date.now() - 2 * DAY_MS),
        },
      });

      const run = await tokens.refreshExpiringTokens();

      expect(run.needsReauth).toBe(1);
      expect((await accountDoc(accountId))!.status).toBe('needs_reauth');
    });
  });

  describe('routing and enablement', () => {
    it('should resolve by instagram_data.id too, in the order of the ids given', async () => {
      const userId = newUserId();
      const igId = `1784${Date.now()}1`;
      const { accountId } = await givenAccount(t, {
        userId,
        igId,
        accessToken: 'tok',
        extra: { instagram_data: { id: igId } },
      });
      const routed = await accounts.resolveForWebhook(['unknown', igId]);
      expect(routed).toMatchObject({
        accountId,
        userId,
        igId,
        ingestEnabled: true,
        status: 'active',
      });
      expect(await accounts.resolveForWebhook(['nobody'])).toBeNull();
      expect(await accounts.resolveForWebhook([])).toBeNull();
    });

    it('should count a legacy account without a config as enabled', async () => {
      const userId = newUserId();
      const igId = `1784${Date.now()}2`;
      await givenAccount(t, { userId, igId, accessToken: 'tok', withConfig: false });
      expect((await accounts.resolveForWebhook([igId]))!.ingestEnabled).toBe(true);
    });

    it('should stop ingest and sending while the config is disabled, until re-enabled', async () => {
      const { biz, userId, account } = await givenTenant(t, sim);
      const { accountId } = account;
      const user = { id: userId };

      const off = await t
        .http()
        .patch(`/user-settings/configs/${accountId}`)
        .set(t.bearer(userId))
        .send({ is_active: false })
        .expect(200);
      expect(off.body).toEqual({
        success: true,
        data: expect.objectContaining({
          account_id: accountId,
          is_active: false,
          is_deleted: false,
        }),
      });
      expect((await accounts.resolveForWebhook([biz.igId]))!.ingestEnabled).toBe(false);
      await expect(accounts.getSendableAccount(user, accountId)).rejects.toMatchObject({
        status: 409,
        code: 'ACCOUNT_DISABLED',
      });
      expect(
        (await t.http().get(`/accounts/${accountId}`).set(t.bearer(userId))).body.data.enabled,
      ).toBe(false);

      await t
        .http()
        .patch(`/user-settings/configs/${accountId}`)
        .set(t.bearer(userId))
        .send({ is_active: true, config_name: 'Main' })
        .expect(200);
      const sendable = await accounts.getSendableAccount(user, accountId);
      expect(sendable).toMatchObject({
        accountId,
        ingestEnabled: true,
        graph: { igId: biz.igId, accessToken: biz.accessToken },
      });
      expect((await settingsDoc(userId))!.configs[0]).toEqual({
        config_name: 'Main',
        account_id: accountId,
        is_active: true,
        is_deleted: false,
      });
    });

    it('should stop ingest when the config is deleted', async () => {
      const userId = newUserId();
      const igId = `1784${Date.now()}3`;
      const { accountId } = await givenAccount(t, { userId, igId, accessToken: 'tok' });
      const res = await t
        .http()
        .delete(`/user-settings/configs/${accountId}`)
        .set(t.bearer(userId))
        .expect(200);
      expect(res.body.data).toMatchObject({ account_id: accountId, is_deleted: true });
      expect((await accounts.resolveForWebhook([igId]))!.ingestEnabled).toBe(false);
    });

    it('should refuse an empty config PATCH and an invalid id with 400', async () => {
      const userId = newUserId();
      const { accountId } = await givenAccount(t, {
        userId,
        igId: `1784${Date.now()}4`,
        accessToken: 'tok',
      });
      const empty = await t
        .http()
        .patch(`/user-settings/configs/${accountId}`)
        .set(t.bearer(userId))
        .send({})
        .expect(400);
      expect(empty.body.error.code).toBe('VALIDATION_FAILED');
      await t
        .http()
        .patch(`/user-settings/configs/${accountId}`)
        .set(t.bearer(userId))
        .send({ is_active: 'yes' })
        .expect(400);
      await t
        .http()
        .patch(`/user-settings/configs/${accountId}`)
        .set(t.bearer(userId))
        .send({ other: 1 })
        .expect(400);
      await t.http().get('/accounts/not-an-id').set(t.bearer(userId)).expect(400);
      await t
        .http()
        .patch('/user-settings/configs/not-an-id')
        .set(t.bearer(userId))
        .send({ is_active: true })
        .expect(400);
    });

    it('should show when a webhook was last seen, recorded at most once a minute and outside the account document', async () => {
      const userId = newUserId();
      const { accountId } = await givenAccount(t, {
        userId,
        igId: `1784${Date.now()}5`,
        accessToken: 'tok',
      });
      const lastSeen = async () => {
        const res = await t.http().get(`/accounts/${accountId}`).set(t.bearer(userId)).expect(200);
        return res.body.data.last_webhook_at as string | null;
      };
      expect(await lastSeen()).toBeNull();
      const at = new Date();
      await accounts.recordWebhookSeen(accountId, at);
      await accounts.recordWebhookSeen(accountId, new Date(at.getTime() + 10_000));
      expect(await lastSeen()).toBe(at.toISOString());
      const later = new Date(at.getTime() + 120_000);
      await accounts.recordWebhookSeen(accountId, later);
      expect(await lastSeen()).toBe(later.toISOString());
      // A hot-path write into accounts could undo a concurrent token refresh on FerretDB.
      expect((await accountDoc(accountId))!.last_webhook_at).toBeUndefined();
    });

    it('should still show last_webhook_at from an account document written before account_activity', async () => {
      const userId = newUserId();
      const { accountId } = await givenAccount(t, {
        userId,
        igId: `1784${Date.now()}6`,
        accessToken: 'tok',
      });
      const legacy = new Date(Date.now() - 3_600_000);
      await db()
        .collection('accounts')
        .updateOne({ _id: new Types.ObjectId(accountId) }, { $set: { last_webhook_at: legacy } });
      const res = await t.http().get('/accounts').set(t.bearer(userId)).expect(200);
      expect(res.body.data[0].last_webhook_at).toBe(legacy.toISOString());
      const now = new Date();
      await accounts.recordWebhookSeen(accountId, now);
      const again = await t.http().get('/accounts').set(t.bearer(userId)).expect(200);
      expect(again.body.data[0].last_webhook_at).toBe(now.toISOString());
    });
  });

  describe('routes', () => {
    it('should create the user settings on first use in the reference shape', async () => {
      const userId = newUserId();
      const res = await t.http().get('/user-settings').set(t.bearer(userId)).expect(200);
      expect(res.body).toEqual({
        success: true,
        data: {
          id: expect.any(String),
          user_id: userId,
          platform: 'instagram',
          is_active: true,
          is_deleted: false,
          configs: [],
          created_at: expect.any(String),
          updated_at: expect.any(String),
        },
      });
      await t.http().get('/user-settings').set(t.bearer(userId)).expect(200);
      expect(await db().collection('user_settings').countDocuments({ user_id: userId })).toBe(1);
    });

    it("should list only the caller's accounts, without tokens", async () => {
      const userId = newUserId();
      const a = await givenAccount(t, {
        userId,
        igId: `1784${Date.now()}6`,
        accessToken: 'secret-token-a',
      });
      await givenAccount(t, {
        userId: newUserId(),
        igId: `1784${Date.now()}7`,
        accessToken: 'secret-token-b',
      });
      const res = await t.http().get('/accounts').set(t.bearer(userId)).expect(200);
      expect(res.body.success).toBe(true);
      expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([a.accountId]);
      expect(JSON.stringify(res.body)).not.toMatch(/secret-token|access_token|v1:/);
      expect(await accounts.listOwnedAccountIds({ id: userId })).toEqual([a.accountId]);
    });

    it('should resubscribe the account and record the fields read back', async () => {
      const { biz, userId, account } = await givenTenant(t, sim);
      const { accountId } = account;
      sim.driftSubscription(biz, []);
      const res = await t
        .http()
        .post(`/accounts/${accountId}/resubscribe`)
        .set(t.bearer(userId))
        .expect(200);
      expect([...res.body.data.subscribed_fields].sort()).toEqual([...WEBHOOK_FIELDS].sort());
      expect(biz.subscribedFields.length).toBe(WEBHOOK_FIELDS.length);
    });

    it('should unsubscribe, soft-delete and emit account.deleted with purge', async () => {
      const { biz, userId, account } = await givenTenant(t, sim);
      const { accountId } = account;
      const before = events.length;

      const res = await t
        .http()
        .delete(`/accounts/${accountId}?purge=true`)
        .set(t.bearer(userId))
        .expect(200);

      expect(res.body).toEqual({
        success: true,
        data: { id: accountId, unsubscribed: true, purge: true },
      });
      expect(biz.subscribedFields).toEqual([]);
      const doc = (await accountDoc(accountId))!;
      expect(doc).toMatchObject({
        is_deleted: true,
        deleted_at: expect.any(Date),
        status: 'disconnected',
      });
      expect(doc.access_token).toBeUndefined();
      expect((await settingsDoc(userId))!.configs[0]).toMatchObject({
        account_id: accountId,
        is_deleted: true,
      });
      expect(events.slice(before)).toEqual([
        { name: 'account.deleted', payload: { accountId, userId, purge: true } },
      ]);
      await t.http().get(`/accounts/${accountId}`).set(t.bearer(userId)).expect(404);
      expect(await accounts.resolveForWebhook([biz.igId])).toBeNull();
      expect(await accounts.listOwnedAccountIds({ id: userId })).toEqual([]);
    });

    it('should emit account.deleted without purge by default', async () => {
      const { userId, account } = await givenTenant(t, sim);
      const { accountId } = account;
      const before = events.length;
      await t.http().delete(`/accounts/${accountId}`).set(t.bearer(userId)).expect(200);
      expect(events.slice(before)).toEqual([
        { name: 'account.deleted', payload: { accountId, userId, purge: false } },
      ]);
    });
  });

  describe('tenant isolation', () => {
    it('should answer 404 to another user on every account route and change nothing', async () => {
      const owner = newUserId();
      const other = newUserId();
      const biz = sim.createBusiness();
      const { accountId } = await givenAccount(t, {
        userId: owner,
        igId: biz.igId,
        accessToken: biz.accessToken,
        extra: { token_refreshed_at: new Date(Date.now() - 2 * DAY_MS) },
      });
      const before = await accountDoc(accountId);
      const settingsBefore = await settingsDoc(owner);
      const as = t.bearer(other);
      const missing = new Types.ObjectId().toHexString();

      for (const id of [accountId, missing]) {
        const replies = [
          await t.http().get(`/accounts/${id}`).set(as),
          await t.http().post(`/accounts/${id}/refresh`).set(as),
          await t.http().post(`/accounts/${id}/resubscribe`).set(as),
          await t.http().delete(`/accounts/${id}?purge=true`).set(as),
          await t.http().patch(`/user-settings/configs/${id}`).set(as).send({ is_active: false }),
          await t.http().delete(`/user-settings/configs/${id}`).set(as),
        ];
        for (const reply of replies) {
          expect(reply.status).toBe(404);
          expect(reply.body.error.code).toBe('ACCOUNT_NOT_FOUND');
        }
      }
      expect((await t.http().get('/accounts').set(as).expect(200)).body.data).toEqual([]);
      await expect(accounts.assertOwned({ id: other }, accountId)).rejects.toMatchObject({
        status: 404,
      });
      await expect(accounts.getSendableAccount({ id: other }, accountId)).rejects.toMatchObject({
        status: 404,
        code: 'ACCOUNT_NOT_FOUND',
      });
      expect(await accountDoc(accountId)).toEqual(before);
      expect(await settingsDoc(owner)).toEqual(settingsBefore);
      expect(await settingsDoc(other)).toBeNull();
      expect(biz.subscribedFields.length).toBeGreaterThan(0);
    });
  });
});
