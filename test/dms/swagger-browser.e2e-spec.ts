import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { checkSwaggerUi, chromiumPath } from '../../scripts/swagger-browser-check';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { givenDm } from './dms-helpers';

/**
 * Swagger UI in a real browser (Debian's Chromium through playwright-core), as a user would: open
 * /docs, Authorize with a bearer token, run GET /instagram-dms/list, read the 200 reply on the page.
 * Without Chromium this fails (it is not skipped): CI installs it (.ci/run).
 */
describe('Swagger UI in Chromium', () => {
  let app: TestApp;
  let base: string;

  beforeAll(async () => {
    app = await createTestApp();
    await app.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('should authorize with a token and show the reply of GET /instagram-dms/list', async () => {
    const executable = chromiumPath();
    if (!existsSync(executable))
      throw new Error(
        `Chromium not found at ${executable}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
      );
    const userId = newUserId();
    const { accountId } = await givenAccount(app, {
      userId,
      igId: '17841400000009901',
      accessToken: 'token-never-shown',
    });
    const dm = await givenDm(app, { platform_account_id: accountId, text: 'seen in swagger' });

    const result = await checkSwaggerUi(base, app.bearer(userId).Authorization.slice(7));

    expect(result).toMatchObject({ status: 200 });
    expect(result.reply).toMatchObject({
      success: true,
      total: 1,
      data: [{ _id: String(dm._id), text: 'seen in swagger' }],
    });
  }, 60_000);
});
