/**
 * Shared pieces of the benchmark (bench/run.ts) and the reliability suite (test/reliability):
 * a database, igdm as a child process, accounts written straight to the database, signed
 * deliveries with known mids, percentiles and RSS sampling. No jest, no Nest imports.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { MongoClient, ObjectId, type Db } from 'mongodb';
import {
  encodeMid,
  envelope,
  messagingElement,
  metaStringify,
  postSigned,
  signBody,
  type WebhookEvent,
} from '../meta-simulator';
import { newIgsid, newItemId, newThreadId } from '../meta-simulator/ids';
import { TokenCipher } from '../src/accounts/token-cipher';
import { buildFerretDb } from '../src/database/embedded-database';

export const ROOT = resolve(__dirname, '..');
export const APP_SECRET = 'sim-app-secret';
export const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123';
export const ENCRYPTION_KEY = 'bench-encryption-key-0123456789abcdef';

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i] * 10) / 10;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => res(port));
    });
  });
}

/** Polls `fn` until truthy; no fixed sleeps in the callers. */
export async function until<T>(
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  what = 'condition',
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resident set size of a process in bytes (Linux /proc), 0 when gone. */
export function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: () => number | undefined) {
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }
  sample(): number {
    const v = rssOf(this.pid());
    if (v > this.peak) this.peak = v;
    return v;
  }
  reset(): void {
    this.peak = 0;
    this.sample();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

export function igdmEnv(opts: {
  databaseUrl: string;
  databaseName: string;
  port: number;
  graphUrl: string;
  apiUrl?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    ENVIRONMENT: 'test',
    DATABASE_URL: opts.databaseUrl,
    DATABASE_NAME: opts.databaseName,
    INSTAGRAM_CLIENT_ID: '1234567890123456',
    INSTAGRAM_CLIENT_SECRET: APP_SECRET,
    META_WEBHOOK_VERIFY_TOKEN: 'bench-verify-token',
    FRONTEND_URL: 'http://frontend.test',
    API_URL: 'http://api.test',
    JWT_SECRET,
    ENCRYPTION_KEY,
    LOG_LEVEL: 'warn',
    PORT: String(opts.port),
    INSTAGRAM_GRAPH_URL: opts.graphUrl,
    INSTAGRAM_API_URL: opts.apiUrl ?? opts.graphUrl,
    // WEBHOOK_* tuning from the bench's own environment (e.g. WEBHOOK_WORKER_CONCURRENCY=1).
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] => e[0].startsWith('WEBHOOK_') && e[1] !== undefined,
      ),
    ),
    ...opts.extra,
  };
}

export interface IgdmProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  port: number;
  /** Milliseconds from spawn to the first /health 200. */
  startupMs: number;
  output: () => string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
  agent?: http.Agent,
  timeoutMs = 10_000,
): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    const req = http.get(url, { headers, agent }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        res({ status: r.statusCode ?? 0, body, ms: performance.now() - t0 });
      });
    });
    req.on('error', rej);
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)),
    );
  });
}

/** The node flags `npm start` gives igdm (package.json: its heap cap), so the bench runs the same. */
export function startNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return pkg.scripts.start.split(/\s+/).filter((arg) => arg.startsWith('--'));
}

/**
 * igdm from its TypeScript sources in a process of its own (the way `nest start` runs it, minus
 * type checking): its RSS is its own and a SIGKILL is a real crash.
 */
export async function spawnIgdm(
  env: Record<string, string>,
  opts: {
    timeoutMs?: number;
    keepOutput?: number;
    /** Entry file (default src/main.ts); the reliability suite uses a harness around AppModule. */
    entry?: string;
    /**
     * Run igdm as `npm start` does (scripts/start.js: compiled into dist/ when the sources
     * changed, then dist/main.js): what users run, without the TypeScript compiler in memory.
     */
    compiled?: boolean;
    /** Every chunk of stdout/stderr, e.g. to capture all logs. */
    onOutput?: (chunk: string) => void;
  } = {},
): Promise<IgdmProcess> {
  const started = Date.now();
  const child = spawn(
    process.execPath,
    opts.compiled
      ? [...startNodeFlags(), join(ROOT, 'scripts', 'start.js')]
      : ['-r', 'ts-node/register/transpile-only', opts.entry ?? join(ROOT, 'src', 'main.ts')],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = opts.keepOutput ?? 64 * 1024;
  let out = '';
  const onData = (c: Buffer) => {
    const text = c.toString('utf8');
    opts.onOutput?.(text);
    out += text;
    if (out.length > keep) out = out.slice(out.length - keep);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // Never leave an orphan behind when this process ends first (a failed bench, a killed test).
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  void exited.then(() => process.removeListener('exit', reap));
  const port = Number(env.PORT);
  const url = `http://127.0.0.1:${port}`;
  let dead = false;
  void exited.then(() => (dead = true));
  await until(
    async () => {
      if (dead) throw new Error(`igdm exited during start-up: ${out.slice(-2000)}`);
      const r = await getJson(`${url}/health`).catch(() => ({ status: 0 }));
      return r.status === 200;
    },
    opts.timeoutMs ?? 90_000,
    'igdm /health 200',
    50,
  ).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}\n${out.slice(-2000)}`);
  });
  return {
    child,
    pid: child.pid!,
    url,
    port,
    startupMs: Date.now() - started,
    output: () => out,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.kill(signal);
      await exited;
      clearTimeout(killer);
    },
  };
}

export async function connectDb(
  uri: string,
  name: string,
): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  return { client, db: client.db(name) };
}

/** An accounts document and its user_settings config, as test/support/factories writes them. */
export async function insertAccount(
  db: Db,
  opts: { userId: string; igId: string; accessToken: string; username: string; name: string },
): Promise<string> {
  const now = new Date();
  const _id = new ObjectId();
  const expiresIn = 60 * 24 * 3600;
  await db.collection('accounts').insertOne({
    _id,
    user_id: opts.userId,
    platform: 'meta_instagram',
    access_token: new TokenCipher(ENCRYPTION_KEY).encrypt(opts.accessToken, _id.toHexString()),
    expires_in: expiresIn,
    instagram_data: { ig_id: opts.igId, id: opts.igId, username: opts.username },
    meta: { id: opts.igId, name: opts.name, username: opts.username },
    created_at: now,
    updated_at: now,
    status: 'active',
    token_expires_at: new Date(now.getTime() + expiresIn * 1000),
    token_refreshed_at: now,
  });
  await db.collection('user_settings').updateOne(
    { user_id: opts.userId, platform: 'instagram' },
    {
      $setOnInsert: {
        user_id: opts.userId,
        platform: 'instagram',
        is_active: true,
        is_deleted: false,
        created_at: now,
      },
      $set: { updated_at: now },
      $push: {
        configs: {
          config_name: opts.name,
          account_id: _id.toHexString(),
          is_active: true,
          is_deleted: false,
        },
      },
    } as never,
    { upsert: true },
  );
  return _id.toHexString();
}

/** A dashboard bearer token (HS256), without pulling in @nestjs/jwt. */
export function bearer(userId: string, secret = JWT_SECRET, ttlS = 3600): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: userId, iat: now, exp: now + ttlS })}`;
  const sig = createHmac('sha256', secret).update(head).digest('base64url');
  return `Bearer ${head}.${sig}`;
}

export interface Customer {
  igsid: string;
  thread: string;
}

/**
 * Deliveries with known mids: each `next()` returns a body, its message mids (to be stored) and
 * whether it is an exact re-send of an earlier body.
 */
export class DeliveryFactory {
  private readonly recentBodies: { body: string; mids: string[] }[] = [];
  private readonly recentMids: string[] = [];
  private seq = 0;
  constructor(
    private readonly accounts: { igId: string; customers: Customer[] }[],
    private readonly opts: {
      eventsPerDelivery: number;
      duplicateRatio: number;
      readRatio: number;
      /**
       * Stored outbound DMs that read receipts point at (the customer read our message); without
       * them, reads point at recent inbound mids (a no-op for igdm).
       */
      readTargets?: { igId: string; igsid: string; mid: string }[];
    },
  ) {}

  next(): { body: string; mids: string[]; duplicate: boolean; reads: number } {
    if (this.recentBodies.length && Math.random() < this.opts.duplicateRatio) {
      const d = this.recentBodies[Math.floor(Math.random() * this.recentBodies.length)];
      return { body: d.body, mids: d.mids, duplicate: true, reads: 0 };
    }
    const now = Date.now();
    const list: WebhookEvent[] = [];
    const mids: string[] = [];
    let reads = 0;
    for (let i = 0; i < this.opts.eventsPerDelivery; i++) {
      const a = this.accounts[Math.floor(Math.random() * this.accounts.length)];
      const c = a.customers[Math.floor(Math.random() * a.customers.length)];
      const at = now + i;
      const targets = this.opts.readTargets;
      if ((targets?.length || this.recentMids.length) && Math.random() < this.opts.readRatio) {
        reads++;
        const t = targets?.length
          ? targets[Math.floor(Math.random() * targets.length)]
          : {
              igId: a.igId,
              igsid: c.igsid,
              mid: this.recentMids[Math.floor(Math.random() * this.recentMids.length)],
            };
        list.push({
          entryId: t.igId,
          container: 'messaging',
          field: 'messaging_seen',
          at,
          event: messagingElement(t.igsid, t.igId, at, 'read', { mid: t.mid }),
        });
        continue;
      }
      const mid = encodeMid(a.igId, c.thread, newItemId());
      mids.push(mid);
      this.recentMids.push(mid);
      if (this.recentMids.length > 500) this.recentMids.shift();
      this.seq++;
      list.push({
        entryId: a.igId,
        container: 'messaging',
        field: 'messages',
        at,
        event: messagingElement(c.igsid, a.igId, at, 'message', {
          mid,
          text: `Bench message ${this.seq} \u2014 is the blue one in stock? \ud83d\udc99`,
        }),
      });
    }
    const body = metaStringify(envelope(list, now));
    this.recentBodies.push({ body, mids });
    if (this.recentBodies.length > 500) this.recentBodies.shift();
    return { body, mids, duplicate: false, reads };
  }
}

export function newCustomers(n: number): Customer[] {
  return Array.from({ length: n }, () => ({ igsid: newIgsid(), thread: newThreadId() }));
}

export interface PostOutcome {
  status: number;
  ms: number;
  error?: string;
}

export function postDelivery(
  url: string,
  body: string,
  agent: http.Agent,
  timeoutMs = 15_000,
): Promise<PostOutcome> {
  return postSigned(url, body, signBody(body, APP_SECRET), timeoutMs, agent).promise.then((r) => ({
    status: r.status ?? 0,
    ms: r.ms,
    error: r.error,
  }));
}

/** Runs `total` jobs with at most `concurrency` in flight. */
export async function pool(total: number, concurrency: number, job: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < total) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

export function randomName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/**
 * FerretDB v1 (SQLite) as a child process on a fixed port and data folder, so it can be stopped
 * and started again, or frozen and thawed, under a running igdm (the reliability suite's database
 * outage and hang).
 */
export class FerretDbProcess {
  private child: ChildProcess | undefined;
  private frozen = false;
  private constructor(
    readonly binary: string,
    readonly dataDir: string,
    readonly port: number,
  ) {}

  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(dataDir: string, port?: number): Promise<FerretDbProcess> {
    const binary = await buildFerretDb(ROOT, () => undefined);
    const db = new FerretDbProcess(binary, dataDir, port ?? (await freePort()));
    await db.resume();
    return db;
  }

  /** Starts it (again) on the same port and data folder; resolves when it accepts connections. */
  async resume(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const child = spawn(this.binary, ['-data', this.dataDir, '-port', String(this.port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    let stdout = '';
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`FerretDB did not start: ${stderr}`)), 30_000);
      child.stdout.on('data', (c: Buffer) => {
        if (stdout.length < 4096) stdout += c.toString();
        if (stdout.includes('READY ')) {
          clearTimeout(timer);
          res();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`FerretDB exited with ${code}: ${stderr}`));
      });
    });
  }

  /**
   * Suspends it (SIGSTOP): unlike a stop, its sockets stay open and connections are still
   * accepted by the kernel, so clients get no error, only no answer (a hung database).
   */
  freeze(): void {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGSTOP');
    this.frozen = true;
  }

  /** Lets a frozen process run again (SIGCONT); what it was sent meanwhile is answered now. */
  thaw(): void {
    if (!this.frozen) return;
    this.child?.kill('SIGCONT');
    this.frozen = false;
  }

  /** Stops it (SIGTERM, SIGKILL after 5 s, or SIGKILL at once). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    // A suspended process would only act on SIGTERM once continued, so the wait would be 5 s.
    this.thaw();
    await new Promise<void>((res) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(killer);
        res();
      });
      child.kill(signal);
    });
  }
}

/**
 * How many `instagram_dms` documents each mid has (absent: none). A few mids are looked up with
 * `$in`; many are counted from one read of every document's mid, since FerretDB answers each
 * `$in` chunk with a full scan (30 chunks of 500 mids over 15 000 DMs kept its single writer busy
 * for over a minute, slowing down the very ingest being measured).
 */
export async function countByMid(db: Db, mids: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const wanted = new Set(mids);
  const filter = mids.length <= 500 ? { message_id: { $in: mids } } : {};
  const cursor = db
    .collection('instagram_dms')
    .find(filter, { projection: { _id: 0, message_id: 1 } });
  for await (const d of cursor) {
    const mid = String(d.message_id);
    if (wanted.has(mid)) counts.set(mid, (counts.get(mid) ?? 0) + 1);
  }
  return counts;
}
