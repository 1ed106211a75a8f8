import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { call } from './helpers';

const REDIRECT = 'https://igdm.example/instagram/callback';
const DAY = 24 * 3_600_000;

describe('Meta simulator OAuth (Business Login for Instagram)', () => {
  let meta: MetaSimulator;

  beforeEach(async () => {
    meta = await startMetaSimulator({ appSecret: 'oauth-secret', clientId: '9876543210987654' });
  });

  afterEach(() => meta.close());

  async function authorize(state = 'csrf-1'): Promise<{ location: string; code: string }> {
    const res = await fetch(
      meta.authorizeUrl({
        redirectUri: REDIRECT,
        state,
        scope: ['instagram_business_basic', 'instagram_business_manage_messages'],
      }),
      { redirect: 'manual' },
    );
    expect(res.status).toBe(302);
    const location = res.headers.get('location') ?? '';
    const code = new URL(location.replace(/#_$/, '')).searchParams.get('code') ?? '';
    return { location, code };
  }

  function exchange(code: string, overrides: Record<string, string> = {}) {
    return call(meta, 'POST', `${meta.apiUrl}/oauth/access_token`, {
      form: {
        client_id: meta.clientId,
        client_secret: 'oauth-secret',
        grant_type: 'authorization_code',
        redirect_uri: REDIRECT,
        code,
        ...overrides,
      },
    });
  }

  it('should redirect with code, state and #_ for the approving business, or with an error on deny', async () => {
    const biz = meta.createBusiness({ username: 'shop_a' });
    meta.nextAuthorization({ business: biz });
    const { location, code } = await authorize('s-123');
    expect(location.startsWith(`${REDIRECT}?code=`)).toBe(true);
    expect(location).toMatch(/&state=s-123#_$/);
    expect(code).toMatch(/^AQ/);

    meta.nextAuthorization({ business: biz, deny: true });
    const denied = await fetch(meta.authorizeUrl({ redirectUri: REDIRECT, state: 's-2' }), {
      redirect: 'manual',
    });
    const params = new URL((denied.headers.get('location') ?? '').replace(/#_$/, '')).searchParams;
    expect(Object.fromEntries(params)).toEqual({
      error: 'access_denied',
      error_reason: 'user_denied',
      error_description: 'The user denied your request.',
      state: 's-2',
    });

    const wrongApp = await fetch(meta.authorizeUrl({ redirectUri: REDIRECT, clientId: '1' }), {
      redirect: 'manual',
    });
    expect(wrongApp.status).toBe(400);
  });

  it('should exchange a code once into a flat body with user_id as raw digits beyond 2^53', async () => {
    const biz = meta.createBusiness();
    meta.nextAuthorization({ business: biz });
    const { code } = await authorize();
    const res = await exchange(code);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(new RegExp(`"user_id":${biz.igId},`));
    expect(Number(biz.igId)).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    // A plain JSON.parse rounds the id: igdm must parse losslessly.
    expect(String(res.json.user_id)).not.toBe(biz.igId);
    expect(Object.keys(res.json)).toEqual(['access_token', 'user_id', 'permissions']);
    expect(res.json.access_token).toMatch(/^IGAA/);
    expect(res.json.permissions).toEqual([
      'instagram_business_basic',
      'instagram_business_manage_messages',
    ]);

    const again = await exchange(code);
    expect(again.status).toBe(400);
    expect(again.json).toEqual({
      error_type: 'OAuthException',
      code: 400,
      error_message: 'Matching code was not found or was already used',
    });
  });

  it('should reject a wrong secret, a different redirect_uri and an expired code', async () => {
    const biz = meta.createBusiness();
    meta.nextAuthorization({ business: biz });
    const { code } = await authorize();
    expect((await exchange(code, { client_secret: 'nope' })).json.error_message).toBe(
      'Error validating client secret.',
    );
    expect((await exchange(code, { redirect_uri: `${REDIRECT}/` })).json.error_message).toMatch(
      /redirect_uri is identical/,
    );
    meta.advanceClock(3_600_001);
    expect((await exchange(code)).json.error_message).toBe('This authorization code has expired.');
  });

  it('should grant only the scopes the user left ticked', async () => {
    const biz = meta.createBusiness();
    meta.nextAuthorization({ business: biz, grant: ['instagram_business_basic'] });
    const { code } = await authorize();
    expect((await exchange(code)).json.permissions).toEqual(['instagram_business_basic']);
  });

  it('should exchange for a 60-day token and refresh only tokens at least 24 h old and not expired', async () => {
    const biz = meta.createBusiness();
    meta.nextAuthorization({ business: biz });
    const short = (await exchange((await authorize()).code)).json.access_token as string;

    const badSecret = await call(meta, 'GET', '/access_token', {
      token: short,
      query: { grant_type: 'ig_exchange_token', client_secret: 'nope' },
    });
    expect(badSecret.json.error.message).toBe('Error validating client secret.');

    const long = await call(meta, 'GET', '/access_token', {
      query: {
        grant_type: 'ig_exchange_token',
        client_secret: 'oauth-secret',
        access_token: short,
      },
    });
    expect(long.json).toEqual({
      access_token: expect.stringMatching(/^IGAA/),
      token_type: 'bearer',
      expires_in: 5184000,
    });
    const longToken = long.json.access_token as string;
    expect(biz.accessToken).toBe(longToken);

    const refresh = () =>
      call(meta, 'GET', '/refresh_access_token', {
        token: longToken,
        query: { grant_type: 'ig_refresh_token' },
      });
    expect((await refresh()).json.error.code).toBe(190);

    meta.setTokenTimes(longToken, { createdAt: meta.now() - 2 * DAY });
    const refreshed = await refresh();
    expect(refreshed.json).toMatchObject({ token_type: 'bearer', expires_in: 5184000 });
    expect(refreshed.json.access_token).not.toBe(longToken);

    meta.advanceClock(61 * DAY);
    const expired = await call(meta, 'GET', '/v24.0/refresh_access_token', {
      token: refreshed.json.access_token,
      query: { grant_type: 'ig_refresh_token' },
    });
    expect(expired.json.error).toMatchObject({ code: 190, error_subcode: 463 });
  });
});
