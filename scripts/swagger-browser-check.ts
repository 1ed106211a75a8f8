/**
 * Checks Swagger UI in a real browser (Debian's Chromium driven by playwright-core): open /docs,
 * Authorize with a token signed like `npm run token`, run GET /instagram-dms/list, read the reply.
 *   npm run docs:check -- [--url http://localhost:8000] [--user user_123] [--screenshot docs.png]
 * Needs `apt-get install chromium` and a running igdm (npm start). Exits 1 if any step fails.
 */
import { setting } from './settings';
import { JwtService } from '@nestjs/jwt';
import { chromium } from 'playwright-core';

function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

export async function checkSwaggerUi(
  baseUrl: string,
  token: string,
  screenshot?: string,
): Promise<string> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/docs`, { waitUntil: 'networkidle' });
    await page
      .getByRole('button', { name: /authorize/i })
      .first()
      .click();
    await page.locator('.auth-container input').first().fill(token);
    await page.locator('.auth-btn-wrapper button.authorize').first().click();
    await page
      .locator('.auth-btn-wrapper button.btn-done, .auth-btn-wrapper button.close-modal')
      .first()
      .click();

    const operation = page
      .locator(
        '#operations-DMs-DmsController_list, [id*="instagram-dms_list"], .opblock-get:has-text("/instagram-dms/list")',
      )
      .first();
    await operation.locator('.opblock-summary').first().click();
    await operation.getByRole('button', { name: /try it out/i }).click();
    await operation.getByRole('button', { name: /execute/i }).click();
    const status = operation
      .locator('.responses-table.live-responses-table .response-col_status')
      .first();
    await status.waitFor({ timeout: 15_000 });
    const code = (await status.innerText()).trim();
    const body = (
      await operation
        .locator('.live-responses-table .microlight, .live-responses-table pre')
        .first()
        .innerText()
    ).trim();
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
    if (!code.startsWith('200')) throw new Error(`GET /instagram-dms/list answered ${code}`);
    const reply = JSON.parse(body) as { success?: boolean };
    if (reply.success !== true) throw new Error('the reply is not the success envelope');
    return `${code}: ${body.slice(0, 120)}`;
  } finally {
    await browser.close();
  }
}

if (require.main === module) {
  const secret = setting('JWT_SECRET');
  if (!secret) {
    console.error('JWT_SECRET is missing');
    process.exit(1);
  }
  const token = new JwtService({ secret }).sign(
    { sub: arg('user', 'user_123') },
    { algorithm: 'HS256', expiresIn: 600 },
  );
  checkSwaggerUi(arg('url', 'http://localhost:8000'), token, arg('screenshot', ''))
    .then((result) => console.log(`Swagger UI ok — GET /instagram-dms/list ${result}`))
    .catch((error: unknown) => {
      console.error(
        `Swagger UI check failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exit(1);
    });
}
