/**
 * Checks Swagger UI in a real browser (Debian's Chromium driven by playwright-core): open /docs,
 * Authorize with a token signed like `npm run token`, run GET /instagram-dms/list, read the reply.
 *
 *   npm run docs:check                      # starts igdm itself (embedded database, temp folder)
 *   npm run docs:check -- --url http://localhost:8000 [--user user_123] [--screenshot docs.png]
 *
 * Needs Chromium (`apt-get install -y chromium`; another binary: CHROMIUM_PATH). Exits 1 if any
 * step fails. The jest test test/dms/swagger-browser.e2e-spec.ts runs the same check in CI.
 */
import { JwtService } from '@nestjs/jwt';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export interface SwaggerCheckResult {
  /** HTTP status Swagger UI shows for the live call. */
  status: number;
  /** The reply body Swagger UI shows, parsed. */
  reply: unknown;
}

/** Debian's Chromium unless CHROMIUM_PATH names another one. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

function arg(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** Drives Swagger UI at `${baseUrl}/docs` like a person would; throws naming the failed step. */
export async function checkSwaggerUi(
  baseUrl: string,
  token: string,
  screenshot?: string,
): Promise<SwaggerCheckResult> {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath))
    throw new Error(
      `Chromium not found at ${executablePath}: apt-get install -y chromium, or set CHROMIUM_PATH`,
    );
  const browser = await chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  let step = 'open /docs';
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${baseUrl}/docs`, { waitUntil: 'load' });

    step = 'Authorize with the bearer token';
    await page.locator('button.authorize').first().click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.locator('input[type="text"], input:not([type])').first().fill(token);
    await dialog.locator('button.authorize').first().click();
    await dialog.locator('button.btn-done, button.close-modal').first().click();

    step = 'open GET /instagram-dms/list';
    const operation = page.locator('#operations-DMs-DmsController_list');
    await operation.locator('.opblock-summary').first().click();
    step = 'Try it out, Execute';
    await operation.locator('button.try-out__btn').click();
    // Try it out pre-fills the optional filters with their documented examples (an account id
    // that is not the caller's, dates…): empty them, as a user listing everything would.
    const filled = operation.locator(
      '.parameters input[type="text"], .parameters input:not([type])',
    );
    for (let i = 0; i < (await filled.count()); i += 1) await filled.nth(i).fill('');
    await operation.locator('button.execute').click();

    step = 'read the live reply';
    const row = operation.locator('.live-responses-table .response').first();
    const status = row.locator('.response-col_status');
    await status.waitFor();
    const code = Number.parseInt((await status.innerText()).trim(), 10);
    const text = (
      await row.locator('.response-col_description pre, .highlight-code pre').first().innerText()
    ).trim();
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
    let reply: unknown;
    try {
      reply = JSON.parse(text);
    } catch {
      throw new Error(`the reply shown is not JSON: ${text.slice(0, 120)}`);
    }
    return { status: code, reply };
  } catch (error) {
    throw new Error(
      `Swagger UI step "${step}" failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  } finally {
    await browser.close();
  }
}

/**
 * Starts igdm in this process on a free port, with an embedded database in a temp folder. Call
 * before anything loads src/config (ConfigModule.forRoot reads the environment when it loads).
 */
async function startApp(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'igdm-docs-check-'));
  process.env.EMBEDDED_DB_DIR = join(dataDir, 'db');
  process.env.LOG_LEVEL ??= 'warn';
  const { NestFactory } = await import('@nestjs/core');
  const { AppModule } = await import('../src/app.module');
  const { configureApp } = await import('../src/configure-app');
  const app = await NestFactory.create(AppModule, { rawBody: true, bufferLogs: true });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const given = arg('url');
  const app = given ? { url: given, stop: () => Promise.resolve() } : await startApp();
  try {
    // Imported here, not at the top: it loads src/config (see startApp), and the jest test
    // imports checkSwaggerUi before its app exists.
    const { dashboardClaims, setting } = await import('./settings');
    const secret = setting('JWT_SECRET');
    if (!secret) throw new Error('JWT_SECRET is missing: set it in the environment or .env');
    const token = new JwtService({ secret }).sign(
      { sub: arg('user') ?? 'user_123' },
      { algorithm: 'HS256', expiresIn: 600, ...dashboardClaims() },
    );
    const { status, reply } = await checkSwaggerUi(app.url, token, arg('screenshot'));
    if (status !== 200) throw new Error(`GET /instagram-dms/list answered ${status}`);
    if ((reply as { success?: unknown }).success !== true)
      throw new Error('the reply is not the success envelope');
    console.log(
      `Swagger UI ok — GET /instagram-dms/list ${status}: ${JSON.stringify(reply).slice(0, 120)}`,
    );
  } finally {
    await app.stop();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(
        `Swagger UI check failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exit(1);
    },
  );
}
