/**
 * What a new user does, checked end to end (`npm run check:newcomer`, also run by `.ci/run`):
 * a fresh clone in a folder with nothing beside it, `npm ci`, `npm start` → /health and /docs,
 * a connected account and a stored DM, SIGTERM and a second start (200 within 15 s), SIGKILL and
 * a third start with the DM still there, then `npm test`. Each step prints as it happens.
 *
 *   npm run check:newcomer [-- --skip-tests] [--keep] [--test-json <file>]
 *
 * The clone is of HEAD: uncommitted changes are not part of the check (it says so).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { JwtService } from '@nestjs/jwt';
import { startMetaSimulator, type MetaSimulator } from '../meta-simulator';

const ROOT = resolve(__dirname, '..');
const SECOND_START_LIMIT_MS = 15_000;
const FIRST_START_LIMIT_MS = 10 * 60_000;
/** Longest silence allowed while starting: a newcomer must see that a slow first start works. */
const MAX_SILENCE_MS = 20_000;
/** The committed development defaults (.env.development) the clone starts with. */
const DEV_JWT_SECRET = 'dev-jwt-secret-not-for-production-use';
const DEV_APP_SECRET = 'sim-app-secret';
const DEV_CLIENT_ID = '1234567890123456';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};

const checkStarted = Date.now();
const since = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
function step(text: string): void {
  process.stdout.write(`\n[newcomer ${since(checkStarted)}] ${text}\n`);
}
function fail(text: string): never {
  throw new Error(text);
}

function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

function run(command: string, commandArgs: string[], cwd: string): void {
  const result = spawnSync(command, commandArgs, { cwd, stdio: 'inherit', env: process.env });
  if (result.status !== 0)
    fail(`${command} ${commandArgs.join(' ')} failed (${result.signal ?? result.status})`);
}

/** One `npm start` of the clone, its output echoed live and remembered with arrival times. */
class Service {
  readonly lines: { at: number; text: string }[] = [];
  private readonly child: ChildProcess;
  readonly started = Date.now();
  private exited?: Promise<void>;

  constructor(
    private readonly dir: string,
    env: Record<string, string>,
  ) {
    // Its own process group, so the check can signal npm and everything under it like a terminal.
    this.child = spawn('npm', ['start'], {
      cwd: dir,
      env: { ...process.env, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!])
      createInterface({ input: stream }).on('line', (text) => {
        this.lines.push({ at: Date.now(), text });
        process.stdout.write(`    | ${text.length > 200 ? `${text.slice(0, 200)}…` : text}\n`);
      });
    this.exited = new Promise((done) => this.child.once('exit', () => done()));
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /** Every process of this start (npm, the shell, node, FerretDB), by process group. */
  processes(): { pid: number; args: string }[] {
    const ps = spawnSync('ps', ['-e', '-o', 'pid=,pgid=,args='], { encoding: 'utf8' });
    return ps.stdout
      .split('\n')
      .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === this.child.pid)
      .map((m) => ({ pid: Number(m[1]), args: m[3] }));
  }

  async stop(signal: 'SIGTERM' | 'SIGINT'): Promise<number> {
    const t = Date.now();
    process.kill(-this.child.pid!, signal);
    await this.exited;
    await this.waitForGroupGone();
    return Date.now() - t;
  }

  /** A crash: only igdm's own node process dies, the way the OOM killer or `kill -9` does it. */
  async crash(): Promise<void> {
    // npm runs the script through `sh -c`: the node process is the one to kill, not the shell.
    const igdm = this.processes().find(
      (p) => /^\S*node /.test(p.args) && p.args.includes('scripts/start.js'),
    );
    if (!igdm) fail('no igdm node process to kill');
    process.kill(igdm.pid, 'SIGKILL');
    await this.exited;
    // FerretDB must not outlive it: an orphan would hold the data while the next start opens it.
    await this.waitForGroupGone();
  }

  private async waitForGroupGone(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (this.processes().length > 0) {
      if (Date.now() > deadline)
        fail(`left running after the stop: ${JSON.stringify(this.processes())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  longestSilenceMs(until: number): number {
    let last = this.started;
    let longest = 0;
    for (const line of this.lines.filter((l) => l.at <= until)) {
      longest = Math.max(longest, line.at - last);
      last = line.at;
    }
    return Math.max(longest, until - last);
  }
}

async function waitForHealth(
  base: string,
  service: Service,
  limitMs: number,
): Promise<{ readyAt: number }> {
  const deadline = service.started + limitMs;
  for (;;) {
    if (service.exitCode !== null) fail(`npm start exited with code ${service.exitCode}`);
    if (Date.now() > deadline) fail(`/health was not 200 within ${limitMs / 1000} s`);
    const health = await fetch(`${base}/health`).catch(() => undefined);
    if (health?.status === 200) return { readyAt: Date.now() };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function expectDocs(base: string): Promise<void> {
  const page = await fetch(`${base}/docs`);
  const document = await fetch(`${base}/docs-json`);
  if (page.status !== 200 || document.status !== 200)
    fail(`/docs answered ${page.status}, /docs-json ${document.status}`);
  const paths = Object.keys(((await document.json()) as { paths: object }).paths);
  console.log(`    /docs 200, /docs-json lists ${paths.length} paths`);
}

async function connectAndReceiveOneDm(base: string, meta: MetaSimulator, bearer: string) {
  const business = meta.createBusiness({ username: 'newcomer_shop' });
  const connect = await fetch(`${base}/accounts/instagram/connect`, {
    headers: { Authorization: bearer },
  });
  if (connect.status !== 200) fail(`GET /accounts/instagram/connect answered ${connect.status}`);
  const { data } = (await connect.json()) as { data: { url: string } };
  meta.nextAuthorization({ business });
  const consent = await fetch(data.url, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location') ?? fail('no redirect from consent'));
  const callback = await fetch(`${base}/accounts/instagram/callback${back.search}`, {
    redirect: 'manual',
  });
  const landing = new URL(callback.headers.get('location') ?? fail('no redirect from callback'));
  if (landing.searchParams.get('instagram') !== 'authorized')
    fail(`the callback ended with ${landing.searchParams.get('code') ?? landing.search}`);
  // What the dashboard does where the browser lands: finish with the same user's token.
  const finish = await fetch(`${base}/accounts/instagram/connect/finish`, {
    method: 'POST',
    headers: { Authorization: bearer, 'Content-Type': 'application/json' },
    body: JSON.stringify({ connect_ticket: landing.searchParams.get('connect_ticket') }),
  });
  if (finish.status !== 200) fail(`the connect finish answered ${finish.status}`);
  console.log(`    connected @${business.username} through OAuth`);
  await meta.customer(business, { name: 'First Customer' }).sends('hello from a newcomer check');
  const dms = await waitForDms(base, bearer, 1, 30_000);
  console.log(`    the customer's DM is stored (${dms} in the list)`);
}

async function listedDms(base: string, bearer: string): Promise<number> {
  const res = await fetch(`${base}/instagram-dms/list`, { headers: { Authorization: bearer } });
  if (res.status !== 200) return -1;
  return ((await res.json()) as { data: unknown[] }).data.length;
}

async function waitForDms(base: string, bearer: string, count: number, limitMs: number) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const listed = await listedDms(base, bearer);
    if (listed >= count) return listed;
    if (Date.now() > deadline) fail(`expected ${count} DM(s) in the list, saw ${listed}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const dirty = spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' });
  if (dirty.stdout.trim())
    step('note: this tree has uncommitted changes; the check clones HEAD without them');

  const workspace = mkdtempSync(join(tmpdir(), 'igdm-newcomer-'));
  const clone = join(workspace, 'igdm');
  const services: Service[] = [];
  const meta = await startMetaSimulator({ appSecret: DEV_APP_SECRET, clientId: DEV_CLIENT_ID });
  try {
    step(`git clone → ${clone} (nothing beside it)`);
    run('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone], workspace);
    const beside = readdirSync(workspace);
    if (beside.length !== 1) fail(`the clone has company: ${beside.join(', ')}`);

    step('npm ci');
    const ciStarted = Date.now();
    run('npm', ['ci', '--no-audit', '--no-fund'], clone);
    console.log(`    npm ci took ${since(ciStarted)}`);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    meta.setWebhookUrl(`${base}/webhook/instagram`);
    const env = {
      PORT: String(port),
      API_URL: base,
      INSTAGRAM_GRAPH_URL: meta.graphUrl,
      INSTAGRAM_API_URL: meta.apiUrl,
      INSTAGRAM_WWW_URL: meta.wwwUrl,
    };
    const bearer = `Bearer ${new JwtService({ secret: DEV_JWT_SECRET }).sign(
      { sub: 'newcomer' },
      { algorithm: 'HS256', expiresIn: 3600 },
    )}`;

    step('npm start (first start: compile, embedded database build)');
    const first = new Service(clone, env);
    services.push(first);
    const { readyAt } = await waitForHealth(base, first, FIRST_START_LIMIT_MS);
    const firstMs = readyAt - first.started;
    const silence = first.longestSilenceMs(readyAt);
    console.log(`    first start: /health 200 after ${(firstMs / 1000).toFixed(1)} s`);
    console.log(`    longest silence while starting: ${(silence / 1000).toFixed(1)} s`);
    if (silence > MAX_SILENCE_MS)
      fail(`the first start was silent for ${silence} ms (limit ${MAX_SILENCE_MS} ms)`);
    await expectDocs(base);
    await connectAndReceiveOneDm(base, meta, bearer);

    step('SIGTERM (Ctrl-C in a terminal)');
    console.log(`    stopped in ${(await first.stop('SIGTERM')) / 1000} s, nothing left running`);

    step('npm start again');
    const second = new Service(clone, env);
    services.push(second);
    const again = await waitForHealth(base, second, SECOND_START_LIMIT_MS);
    const secondMs = again.readyAt - second.started;
    console.log(`    second start: /health 200 after ${(secondMs / 1000).toFixed(1)} s`);
    await expectDocs(base);
    const afterRestart = await waitForDms(base, bearer, 1, 10_000);
    console.log(`    ${afterRestart} DM(s) still listed`);

    step('SIGKILL of the igdm process (a crash)');
    await second.crash();
    console.log('    igdm and its embedded database are gone');

    step('npm start after the crash');
    const third = new Service(clone, env);
    services.push(third);
    const recovered = await waitForHealth(base, third, SECOND_START_LIMIT_MS);
    console.log(
      `    start after SIGKILL: /health 200 after ${((recovered.readyAt - third.started) / 1000).toFixed(1)} s`,
    );
    const afterCrash = await waitForDms(base, bearer, 1, 10_000);
    console.log(`    ${afterCrash} DM(s) still listed`);
    await third.stop('SIGINT');

    if (flag('skip-tests')) {
      step('npm test skipped (--skip-tests)');
    } else {
      step('npm test');
      const json = option('test-json');
      run(
        'npm',
        ['test', ...(json ? ['--', '--json', `--outputFile=${resolve(json)}`] : [])],
        clone,
      );
    }
    step(
      `newcomer check passed: first start ${(firstMs / 1000).toFixed(1)} s, ` +
        `second start ${(secondMs / 1000).toFixed(1)} s`,
    );
  } finally {
    for (const service of services)
      if (service.exitCode === null && service.processes().length > 0)
        await service.stop('SIGTERM').catch(() => undefined);
    await meta.close();
    if (flag('keep')) console.log(`kept ${workspace}`);
    else rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stdout.write(
    `\n[newcomer ${since(checkStarted)}] FAILED: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
