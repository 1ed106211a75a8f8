import { JwtService } from '@nestjs/jwt';
import { createTestApp, newUserId, TEST_JWT_SECRET, type TestApp } from '../support/e2e';

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'igdm-dashboard';
const PREVIOUS_SECRET = 'previous-jwt-secret-0123456789abcdef';
const HOUR = 3600;

/**
 * The claims a dashboard token must carry (exp within JWT_MAX_TTL, iss and aud when configured),
 * through the real app and a real route. Signed here with jsonwebtoken, as a dashboard would.
 */
describe('dashboard JWT claims (e2e)', () => {
  let app: TestApp;
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (payload: object, secret = TEST_JWT_SECRET) =>
    new JwtService({ secret }).sign(payload, { algorithm: 'HS256' });
  const good = (extra: object = {}) => ({
    sub: newUserId(),
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now(),
    exp: now() + HOUR,
    ...extra,
  });

  beforeAll(async () => {
    app = await createTestApp({
      JWT_MAX_TTL: '2h',
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_SECRET_PREVIOUS: PREVIOUS_SECRET,
    });
  });
  afterAll(() => app?.close());

  const list = (token: string) =>
    app.http().get('/instagram-dms/list').set('Authorization', `Bearer ${token}`);

  async function refused(token: string, message: string): Promise<void> {
    const res = await list(token).expect(401);
    expect(res.body).toEqual({
      success: false,
      error: { code: 'UNAUTHORIZED', message },
      detail: message,
    });
    // Neither the token nor its signature is echoed.
    expect(JSON.stringify(res.body)).not.toContain(token.split('.')[2]);
  }

  it('should accept a token with exp, iss and aud as configured (also from the test helper)', async () => {
    await list(sign(good())).expect(200);
    await list(sign(good({ aud: ['other-api', AUDIENCE] }))).expect(200);
    // Without iat the remaining lifetime counts: 1 h left of at most 2 h.
    const { iat: _iat, ...noIat } = good();
    await list(sign(noIat)).expect(200);
    await app.http().get('/instagram-dms/list').set(app.bearer(newUserId())).expect(200);
  });

  it('should refuse a token without exp, which would otherwise never expire', async () => {
    const { exp: _exp, ...forever } = good();
    await refused(sign(forever), 'Token has no expiry (exp)');
  });

  it('should refuse a token whose lifetime exceeds JWT_MAX_TTL', async () => {
    await refused(
      sign(good({ exp: now() + 3 * HOUR })),
      'Token lifetime (exp − iat) exceeds the 7200 s this service accepts',
    );
    // Backdating iat does not stretch the lifetime, and without iat exp − now counts.
    await refused(
      sign(good({ iat: now() - 10 * HOUR })),
      'Token lifetime (exp − iat) exceeds the 7200 s this service accepts',
    );
    const { iat: _iat, ...noIat } = good({ exp: now() + 30 * 24 * HOUR });
    await refused(
      sign(noIat),
      'Token lifetime (exp − iat) exceeds the 7200 s this service accepts',
    );
    await refused(sign(good({ iat: now() + HOUR })), 'Token issue time (iat) is in the future');
  });

  it('should refuse a token of another issuer or audience, or without them', async () => {
    await refused(
      sign(good({ iss: 'https://evil.example.test' })),
      'Token issuer (iss) is not accepted',
    );
    const { iss: _iss, ...noIss } = good();
    await refused(sign(noIss), 'Token issuer (iss) is not accepted');
    await refused(sign(good({ aud: 'another-api' })), 'Token audience (aud) is not accepted');
    const { aud: _aud, ...noAud } = good();
    await refused(sign(noAud), 'Token audience (aud) is not accepted');
  });

  it('should still say which of an expired token’s claims failed', async () => {
    await refused(sign(good({ iat: now() - 2 * HOUR, exp: now() - 60 })), 'Token expired');
  });

  it('should accept tokens of JWT_SECRET_PREVIOUS during a rotation, and no other secret', async () => {
    await list(sign(good(), PREVIOUS_SECRET)).expect(200);
    await refused(sign(good(), 'a-third-secret-nobody-configured-000'), 'Invalid token');
    // The previous secret's tokens obey the same claims.
    const { exp: _exp, ...forever } = good();
    await refused(sign(forever, PREVIOUS_SECRET), 'Token has no expiry (exp)');
  });
});
