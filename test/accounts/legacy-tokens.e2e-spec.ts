import { loadFernetVectors } from '../support/reference-db';
import { Logger } from '@nestjs/common';
import { MetaSimulator, startMetaSimulator } from '../../meta-simulator';
import { AccountTokensService } from '../../src/accounts/account-tokens.service';
import { AccountsService } from '../../src/accounts/accounts.service';
import { TokenCipher } from '../../src/accounts/token-cipher';
import { TokenBindingMigration } from '../../src/accounts/token-binding.migration';
import { createTestApp, newUserId, TestApp } from '../support/e2e';
import { givenAccount, givenTenant, storedAccount } from '../support/factories';
import { Types } from 'mongoose';

const vectors = loadFernetVectors();
/** The Python service's key; its accounts were encrypted with it. */
const REFERENCE_KEY = 'your_32_byte_encryption_key';
const DAY_MS = 24 * 3_600_000;

describe('accounts written by the Python service', () => {
  let sim: MetaSimulator;
  let t: TestApp;
  let accounts: AccountsService;
  let tokens: AccountTokensService;
  const vector = vectors.cases.find((c) => c.encryption_key === REFERENCE_KEY)!;

  beforeAll(async () => {
    sim = await startMetaSimulator();
    t = await createTestApp({
      INSTAGRAM_GRAPH_URL: sim.graphUrl,
      INSTAGRAM_API_URL: sim.apiUrl,
      INSTAGRAM_WWW_URL: sim.wwwUrl,
      INSTAGRAM_CLIENT_ID: sim.clientId,
      INSTAGRAM_CLIENT_SECRET: sim.appSecret,
      ENCRYPTION_KEY: REFERENCE_KEY,
    });
    accounts = t.app.get(AccountsService);
    tokens = t.app.get(AccountTokensService);
  });

  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  const accountDoc = (id: string) => storedAccount(t, id);

  /** A reference-shaped document: Fernet token, no status, no token_expires_at, written `ageDays` ago. */
  async function givenLegacyAccount(fernetToken: string, ageDays: number) {
    const biz = sim.createBusiness();
    const written = new Date(Date.now() - ageDays * DAY_MS);
    const given = await givenAccount(t, {
      userId: newUserId(),
      igId: biz.igId,
      accessToken: '',
      storedAccessToken: fernetToken,
      expiresIn: 5_184_000,
      extra: { created_at: written, updated_at: written },
    });
    await t.connection
      .db!.collection('accounts')
      .updateOne(
        { _id: new Types.ObjectId(given.accountId) },
        { $unset: { status: '', token_expires_at: '', token_refreshed_at: '' } },
      );
    return { biz, ...given };
  }

  it('should decrypt a Fernet token of the Python service for Graph calls', async () => {
    const { accountId, igId } = await givenLegacyAccount(vector.fernet_token, 1);
    await expect(accounts.getGraphAccount(accountId)).resolves.toEqual({
      igId,
      accessToken: vector.plaintext,
    });
  });

  it('should refresh a legacy token near its expiry and store the new one bound to its account', async () => {
    // 55 days after the Python service wrote it, its 60-day token expires within the 10-day margin.
    const { biz, accountId } = await givenLegacyAccount(vector.fernet_token, 55);
    // Meta knows the vector's plaintext as this account's two-day-old long-lived token.
    sim.state.tokens.set(vector.plaintext, {
      token: vector.plaintext,
      igId: biz.igId,
      kind: 'long',
      createdAt: sim.now() - 55 * DAY_MS,
      expiresAt: sim.now() + 5 * DAY_MS,
      permissions: [...biz.permissions],
    });

    const run = await tokens.refreshExpiringTokens();

    expect(run.refreshed).toBe(1);
    const doc = (await accountDoc(accountId))!;
    expect(doc.access_token).toMatch(/^v2:/);
    const fresh = new TokenCipher(REFERENCE_KEY).decrypt(doc.access_token, accountId);
    expect(fresh).not.toBe(vector.plaintext);
    expect(sim.token(fresh)?.igId).toBe(biz.igId);
    expect(doc.token_expires_at.getTime()).toBeGreaterThan(Date.now() + 59 * DAY_MS);
    await expect(accounts.getGraphAccount(accountId)).resolves.toMatchObject({
      accessToken: fresh,
    });
  });

  it('should derive a legacy expiry from updated_at + expires_in and not refresh a fresh token', async () => {
    const { accountId } = await givenLegacyAccount(vector.fernet_token, 5);
    const written = (await accountDoc(accountId))!.updated_at as Date;
    const calls = sim.requests({ endpoint: 'refresh' }).length;

    await tokens.refreshExpiringTokens();

    const doc = (await accountDoc(accountId))!;
    expect(doc.token_expires_at).toEqual(new Date(written.getTime() + 5_184_000 * 1000));
    expect(doc.access_token).toBe(vector.fernet_token);
    expect(sim.requests({ endpoint: 'refresh' }).length).toBe(calls);
  });

  it('should store a Fernet token in the current format the next time the account is written', async () => {
    const { biz, accountId, userId } = await givenLegacyAccount(vector.fernet_token, 1);
    // Meta knows the vector's plaintext as this account's token.
    sim.state.tokens.set(vector.plaintext, {
      token: vector.plaintext,
      igId: biz.igId,
      kind: 'long',
      createdAt: sim.now() - DAY_MS,
      expiresAt: sim.now() + 59 * DAY_MS,
      permissions: [...biz.permissions],
    });

    await t.http().post(`/accounts/${accountId}/resubscribe`).set(t.bearer(userId)).expect(200);

    const stored = (await accountDoc(accountId))!.access_token as string;
    expect(stored).toMatch(/^v2:/);
    expect(new TokenCipher(REFERENCE_KEY).decrypt(stored, accountId)).toBe(vector.plaintext);
    await expect(accounts.getGraphAccount(accountId)).resolves.toMatchObject({
      accessToken: vector.plaintext,
    });
  });

  it('should fail loudly, never using the ciphertext, when ENCRYPTION_KEY does not match', async () => {
    const { accountId, userId } = await givenLegacyAccount(vectors.wrong_key.fernet_token, 1);
    const seen = sim.requests().length;
    const errors = jest.spyOn(Logger.prototype, 'error');

    await expect(accounts.getGraphAccount(accountId)).rejects.toMatchObject({
      status: 409,
      code: 'ACCOUNT_REAUTH_REQUIRED',
      message: expect.stringContaining('ENCRYPTION_KEY does not match'),
      options: { details: { reason: 'TOKEN_UNDECRYPTABLE' } },
    });
    // Loud for the operator: an error log naming the account and the key, never the token.
    expect(errors).toHaveBeenCalledWith(
      expect.objectContaining({ accountId }),
      expect.stringContaining('ENCRYPTION_KEY does not match'),
    );
    expect(JSON.stringify(errors.mock.calls)).not.toContain(vectors.wrong_key.fernet_token);
    errors.mockRestore();
    const res = await t
      .http()
      .post(`/accounts/${accountId}/resubscribe`)
      .set(t.bearer(userId))
      .expect(409);
    expect(res.body.error).toMatchObject({
      code: 'ACCOUNT_REAUTH_REQUIRED',
      details: { reason: 'TOKEN_UNDECRYPTABLE' },
    });
    expect(JSON.stringify(res.body)).not.toContain(vectors.wrong_key.fernet_token);
    // Nothing reached Meta with the ciphertext as a token.
    expect(sim.requests().length).toBe(seen);
    // The account itself is still listed; fixing the key heals it.
    expect(
      (await t.http().get(`/accounts/${accountId}`).set(t.bearer(userId)).expect(200)).body.data
        .status,
    ).toBe('active');
  });

  it('should not refresh an account whose token does not decrypt, and report it', async () => {
    const { accountId } = await givenLegacyAccount(
      new TokenCipher('another-key-entirely-0123456789').encrypt('IGAAsomething'),
      58,
    );
    const calls = sim.requests({ endpoint: 'refresh' }).length;
    const run = await tokens.refreshExpiringTokens();
    expect(run.failed).toBeGreaterThanOrEqual(1);
    expect(sim.requests({ endpoint: 'refresh' }).length).toBe(calls);
    expect((await accountDoc(accountId))!.access_token).not.toMatch(/^IGAA/);
  });
  it('should refuse an access token copied from another account, and call Meta with neither', async () => {
    const { biz: victim, account: a } = await givenTenant(t, sim);
    const { account: b } = await givenTenant(t, sim);
    // Someone with write access to the database moves the victim's ciphertext to their account.
    const stolen = (await accountDoc(a.accountId))!.access_token as string;
    expect(stolen).toMatch(/^v2:/);
    await t.connection
      .db!.collection('accounts')
      .updateOne({ _id: new Types.ObjectId(b.accountId) }, { $set: { access_token: stolen } });
    const seen = sim.requests().length;

    const res = await t
      .http()
      .post(`/accounts/${b.accountId}/resubscribe`)
      .set(t.bearer(b.userId))
      .expect(409);

    expect(res.body.error).toMatchObject({
      code: 'ACCOUNT_REAUTH_REQUIRED',
      details: { reason: 'TOKEN_UNDECRYPTABLE' },
    });
    expect(sim.requests().length).toBe(seen);
    await expect(accounts.getGraphAccount(a.accountId)).resolves.toMatchObject({
      accessToken: victim.accessToken,
    });
  });

  it('should bind every stored token to its account once at start-up, Fernet and v1 alike', async () => {
    const fernet = await givenLegacyAccount(vector.fernet_token, 1);
    const unbound = await givenLegacyAccount(
      new TokenCipher(REFERENCE_KEY).encrypt('IGAA-v1-token'),
      1,
    );
    const undecryptable = await givenLegacyAccount(vectors.wrong_key.fernet_token, 1);

    const reencrypted = await t.app.get(TokenBindingMigration).run({ force: true });

    expect(reencrypted).toBeGreaterThanOrEqual(2);
    for (const [given, plaintext] of [
      [fernet, vector.plaintext],
      [unbound, 'IGAA-v1-token'],
    ] as const) {
      const stored = (await accountDoc(given.accountId))!.access_token as string;
      expect(stored).toMatch(/^v2:/);
      expect(new TokenCipher(REFERENCE_KEY).decrypt(stored, given.accountId)).toBe(plaintext);
    }
    // A token that does not decrypt is left for the operator (right key, or a reconnect).
    expect((await accountDoc(undecryptable.accountId))!.access_token).toBe(
      vectors.wrong_key.fernet_token,
    );
    // Once is enough: nothing is left to re-encrypt.
    expect(await t.app.get(TokenBindingMigration).run({ force: true })).toBe(0);
  });
});
