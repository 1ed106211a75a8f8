import { Types } from 'mongoose';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';

/** Dates and cursors that pass a format check but are no readable date: 400, never 500. */
describe('Unreadable dates and cursors (e2e)', () => {
  let app: TestApp;
  let userId: string;
  beforeAll(async () => {
    app = await createTestApp();
    userId = newUserId();
    await givenAccount(app, { userId, igId: `1784140${Date.now() % 1e10}`, accessToken: 'tok' });
  });
  afterAll(async () => app?.close());

  const get = (path: string) => app.http().get(path).set(app.bearer(userId));
  const cursor = (t: number, id: string) =>
    Buffer.from(JSON.stringify({ t, id }), 'utf8').toString('base64url');

  it.each([
    ['an ISO week date', '/instagram-dms/list?since=2026-W05', 'VALIDATION_FAILED'],
    ['an ISO ordinal date', '/instagram-dms/list?until=2026-032', 'VALIDATION_FAILED'],
    [
      'a list cursor past the Date range',
      `/instagram-dms/list?cursor=${cursor(1e20, new Types.ObjectId().toHexString())}`,
      'INVALID_CURSOR',
    ],
    [
      'a conversations cursor past the Date range',
      `/instagram-dms/conversations?cursor=${cursor(1e20, 'x')}`,
      'INVALID_CURSOR',
    ],
  ])('should answer 400 to %s', async (_what, path, code) => {
    const res = await get(path);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
  });

  it('should still take a calendar date and a date-time', async () => {
    const res = await get('/instagram-dms/list?since=2026-01-31&until=2026-02-01T00:00:00Z');
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
  });
});
