/**
 * Security issue 1: the OAuth connect cannot be forced on someone else. An attacker asks igdm for
 * a connect URL with their own token and gets the owner of an Instagram business account to open
 * it and click Allow. The victim's browser (its own cookie jar, no igdm token of the attacker's)
 * goes through Instagram's consent and igdm's callback; nothing may end up under the attacker.
 */
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';

/**
 * A browser: one cookie jar, follows redirects like a top-level navigation does. igdm is reached
 * in-process (API_URL is not a real host); the navigation stops at FRONTEND_URL, where nothing
 * listens, and returns that address.
 */
class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  constructor(private readonly t: TestApp) {}

  async navigate(start: string): Promise<URL> {
    let url = new URL(start);
    for (let hop = 0; hop < 10; hop += 1) {
      if (url.origin === new URL(this.t.env.FRONTEND_URL).origin) return url;
      const { status, location, setCookies } = await this.get(url);
      this.store(url, setCookies);
      if (status < 300 || status >= 400 || !location)
        throw new Error(`${url.origin}${url.pathname} answered ${status}, not a redirect`);
      url = new URL(location, url);
    }
    throw new Error('too many redirects');
  }

  private async get(url: URL) {
    const cookie = [...(this.jar.get(url.host) ?? new Map<string, string>())]
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
    if (url.origin === new URL(this.t.env.API_URL).origin) {
      const req = this.t.http().get(`${url.pathname}${url.search}`);
      const res = await (cookie ? req.set('Cookie', cookie) : req);
      const raw = res.headers['set-cookie'] as unknown;
      return {
        status: res.status,
        location: res.headers.location as string | undefined,
        setCookies: Array.isArray(raw) ? (raw as string[]) : [],
      };
    }
    const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    return {
      status: res.status,
      location: res.headers.get('location') ?? undefined,
      setCookies: res.headers.getSetCookie(),
    };
  }

  private store(url: URL, setCookies: string[]): void {
    const cookies = this.jar.get(url.host) ?? new Map<string, string>();
    for (const line of setCookies) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    this.jar.set(url.host, cookies);
  }
}

describe('connect is bound to the user who started it (security issue 1)', () => {
  let sim: MetaSimulator;
  let t: TestApp;

  beforeAll(async () => {
    sim = await startMetaSimulator();
    t = await createTestApp({
      INSTAGRAM_GRAPH_URL: sim.graphUrl,
      INSTAGRAM_API_URL: sim.apiUrl,
      INSTAGRAM_WWW_URL: sim.wwwUrl,
      INSTAGRAM_CLIENT_ID: sim.clientId,
      INSTAGRAM_CLIENT_SECRET: sim.appSecret,
    });
  });

  afterAll(async () => {
    await t?.close();
    await sim?.close();
  });

  const db = () => t.connection.db!;
  /** Every call igdm made to Meta (the browser's visits to the consent page are not igdm's). */
  const metaCalls = () => sim.requests((r) => r.endpoint !== 'authorize').length;

  it("should store nothing under the attacker when the victim's browser completes the attacker's connect", async () => {
    const attacker = newUserId();
    const victimUser = newUserId();
    const victimBusiness = sim.createBusiness({ username: 'victim_shop' });

    // The attacker asks for a connect URL with their own token and sends it to the victim.
    const res = await t.http().get('/accounts/instagram/connect').set(t.bearer(attacker));
    expect(res.status).toBe(200);
    const lure = res.body.data.url as string;
    const callsBefore = metaCalls();

    // The victim opens it in their own browser and clicks Allow on Instagram.
    sim.nextAuthorization({ business: victimBusiness });
    const landing = await new Browser(t).navigate(lure);

    expect(landing.origin).toBe(new URL(t.env.FRONTEND_URL).origin);
    expect(landing.searchParams.get('instagram')).not.toBe('connected');
    expect(landing.searchParams.has('account_id')).toBe(false);
    expect(
      await db()
        .collection('accounts')
        .countDocuments({ 'instagram_data.ig_id': victimBusiness.igId }),
    ).toBe(0);
    expect(await db().collection('accounts').countDocuments({ user_id: attacker })).toBe(0);
    // Not even the code exchange: the victim's code never reached Meta through igdm.
    expect(metaCalls()).toBe(callsBefore);

    // The victim's own dashboard (their igdm token) finishing that connect is refused too.
    const ticket = landing.searchParams.get('connect_ticket');
    expect(landing.searchParams.get('instagram')).toBe('authorized');
    expect(ticket).toBeTruthy();
    const mismatch = await t
      .http()
      .post('/accounts/instagram/connect/finish')
      .set(t.bearer(victimUser))
      .send({ connect_ticket: ticket });
    expect(mismatch.status).toBe(403);
    expect(mismatch.body.error.code).toBe('CONNECT_USER_MISMATCH');

    // The attacker holds the state but never sees the ticket: nothing they can send finishes it.
    const state = new URL(lure).searchParams.get('state')!;
    for (const guess of [state, 'x'.repeat(43), ticket]) {
      const attempt = await t
        .http()
        .post('/accounts/instagram/connect/finish')
        .set(t.bearer(attacker))
        .send({ connect_ticket: guess });
      expect({ guess, status: attempt.status, code: attempt.body.error?.code }).toEqual({
        guess,
        status: 404,
        code: 'CONNECT_TICKET_NOT_FOUND',
      });
    }

    expect(
      await db()
        .collection('accounts')
        .countDocuments({ 'instagram_data.ig_id': victimBusiness.igId }),
    ).toBe(0);
    const listed = await t.http().get('/accounts').set(t.bearer(attacker)).expect(200);
    expect(listed.body.data).toEqual([]);
    expect(await db().collection('user_settings').countDocuments({ user_id: attacker })).toBe(0);
    expect(metaCalls()).toBe(callsBefore);
  });

  it('should connect when the user who started it finishes it from their dashboard', async () => {
    const userId = newUserId();
    const biz = sim.createBusiness({ username: 'own_shop' });
    const res = await t.http().get('/accounts/instagram/connect').set(t.bearer(userId));
    sim.nextAuthorization({ business: biz });

    const landing = await new Browser(t).navigate(res.body.data.url as string);
    expect(landing.searchParams.get('instagram')).toBe('authorized');
    const finish = await t
      .http()
      .post('/accounts/instagram/connect/finish')
      .set(t.bearer(userId))
      .send({ connect_ticket: landing.searchParams.get('connect_ticket') });

    expect(finish.status).toBe(200);
    expect(finish.body).toEqual({
      success: true,
      data: { account_id: expect.any(String), missing_scopes: [] },
    });
    const doc = await db()
      .collection('accounts')
      .findOne({ 'instagram_data.ig_id': biz.igId, is_deleted: { $ne: true } });
    expect(doc).toMatchObject({ user_id: userId });
    expect(String(doc!._id)).toBe(finish.body.data.account_id);

    // A ticket is used once.
    const again = await t
      .http()
      .post('/accounts/instagram/connect/finish')
      .set(t.bearer(userId))
      .send({ connect_ticket: landing.searchParams.get('connect_ticket') });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('CONNECT_TICKET_NOT_FOUND');
  });

  it('should refuse a finish without a token or without a ticket', async () => {
    await t
      .http()
      .post('/accounts/instagram/connect/finish')
      .send({ connect_ticket: 'abc' })
      .expect(401);
    const res = await t
      .http()
      .post('/accounts/instagram/connect/finish')
      .set(t.bearer(newUserId()))
      .send({});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  });
});
