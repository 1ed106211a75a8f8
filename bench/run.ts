/**
 * igdm benchmark: `npm run bench [-- --flags]`. Prints figures and never fails on timing.
 *
 * Database: DATABASE_URL when set, else the embedded one (mongod or FerretDB v1/SQLite) in a
 * temporary folder. Meta: the simulator in this process (graphLatencyMs 50 by default), its
 * wire format (signed, Meta-serialised bodies with known mids; see bench/lib.ts DeliveryFactory).
 * igdm: a separate process started as `npm start` does (scripts/start.js, dist/main.js), so its RSS
 * and start-up are its own and the load generator does not share its event loop.
 *
 * Flags (all optional):
 *   --deliveries N        deliveries per ingest scenario (default 3000: long enough for a backlog
 *                         to show; concurrency-1 runs use N/3)
 *   --hostile N           generated hostile webhook bodies (half signed, half badly signed) posted
 *                         after the scenarios, then c50-e1 runs again: acks before and after
 *                         (default 10000; --skip-hostile to leave it out)
 *   --scenarios a,b       subset of scenario names (see SCENARIOS)
 *   --reads A,B           stored DMs for the read benchmark (default 10000,100000), seeded
 *                         straight into the database with insertMany
 *   --read-samples N      requests per read figure (default 30; at least 3, fewer after 20 s)
 *   --ceiling N           documents for the plain-driver ceiling (default 2000)
 *   --graph-latency MS    simulator Graph latency (default 50)
 *   --drain-timeout S     max wait for acked events to be stored, per scenario (default 120)
 *   --quick               deliveries 60, reads 2000,10000, read samples 10 (a smoke run)
 *   --skip-reads, --skip-ceiling
 * WEBHOOK_* variables in the bench's environment are passed to igdm (e.g. WEBHOOK_WORKER_BATCH=1
 * measures the one-by-one path).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ObjectId, type Db } from 'mongodb';
import { postSigned, startMetaSimulator, type MetaSimulator } from '../meta-simulator';
import { startEmbeddedDatabase } from '../src/database/embedded-database';
import { encodeCursor } from '../src/dms/dto/cursor';
import {
  bearer,
  countByMid,
  connectDb,
  DeliveryFactory,
  freePort,
  getJson,
  igdmEnv,
  insertAccount,
  newCustomers,
  percentile,
  pool,
  postDelivery,
  randomName,
  rssOf,
  ROOT,
  RssSampler,
  spawnIgdm,
  type Customer,
} from './lib';

const argv = process.argv.slice(2);
function flag(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  return v === undefined || v.startsWith('--') ? 'true' : v;
}
const QUICK = !!flag('quick');
const num = (name: string, d: number) => (flag(name) ? Number(flag(name)) : d);

const DELIVERIES = num('deliveries', QUICK ? 60 : 3000);
/** Hostile bodies posted between the two c50-e1 runs (issue 15: "acks as fast after them"). */
const HOSTILE = num('hostile', QUICK ? 200 : 10_000);
const READ_SIZES = (flag('reads') ?? (QUICK ? '2000,10000' : '10000,100000'))
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const READ_SAMPLES = num('read-samples', QUICK ? 10 : 30);
const READ_FIGURE_BUDGET_MS = 20_000;
const CEILING_DOCS = num('ceiling', 2000);
const GRAPH_LATENCY = num('graph-latency', 50);
const DRAIN_TIMEOUT_MS = num('drain-timeout', 120) * 1000;
/** Stored DMs under the read-receipt variant (issue 9: "5 % read receipts over 10 000 stored DMs"). */
const READ_VARIANT_DMS = QUICK ? 2_000 : 10_000;

interface Scenario {
  name: string;
  concurrency: number;
  eventsPerDelivery: number;
  deliveries: number;
  graphErrorRatio?: number;
  duplicateRatio?: number;
  readRatio?: number;
  /** Stored DMs (a third outbound) of this scenario's customers, seeded before it: reads target them. */
  seedDms?: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'c1-e1', concurrency: 1, eventsPerDelivery: 1, deliveries: Math.ceil(DELIVERIES / 3) },
  { name: 'c50-e1', concurrency: 50, eventsPerDelivery: 1, deliveries: DELIVERIES },
  { name: 'c200-e1', concurrency: 200, eventsPerDelivery: 1, deliveries: DELIVERIES },
  { name: 'c1-e5', concurrency: 1, eventsPerDelivery: 5, deliveries: Math.ceil(DELIVERIES / 3) },
  { name: 'c50-e5', concurrency: 50, eventsPerDelivery: 5, deliveries: DELIVERIES },
  { name: 'c200-e5', concurrency: 200, eventsPerDelivery: 5, deliveries: DELIVERIES },
  {
    name: 'c50-e1-graph5%err',
    concurrency: 50,
    eventsPerDelivery: 1,
    deliveries: DELIVERIES,
    graphErrorRatio: 0.05,
  },
  {
    name: 'c50-e1-redeliver10%',
    concurrency: 50,
    eventsPerDelivery: 1,
    deliveries: DELIVERIES,
    duplicateRatio: 0.1,
  },
  {
    name: `c50-e1-reads5%@${READ_VARIANT_DMS / 1000}k`,
    concurrency: 50,
    eventsPerDelivery: 1,
    deliveries: DELIVERIES,
    readRatio: 0.05,
    seedDms: READ_VARIANT_DMS,
  },
];

interface IngestResult {
  scenario: string;
  concurrency: number;
  eventsPerDelivery: number;
  deliveries: number;
  acked: number;
  non200: number;
  errors: number;
  ackedPerS: number;
  storedEventsPerS: number;
  ackMs: { p50: number; p95: number; p99: number; max: number };
  ackToStoredMs: { p50: number; p99: number; max: number };
  eventsSent: number;
  readsSent: number;
  duplicatesSent: number;
  dmsExpected: number;
  dmsStored: number;
  duplicates: number;
  graphRequests: number;
  graphFaultsInjected: number;
  peakRssMb: number;
  seededDms?: number;
  readReceiptsApplied?: number;
  wallS: number;
}

const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Ack → stored times from igdm's own change stream (GET /instagram-dms/stream emits a `dm` event
 * once a DM is durable): no polling, so the database (FerretDB scans every non-_id filter) is
 * not loaded by the measurement itself. The final count comes from the database.
 */
class StreamWatcher {
  private readonly pending = new Map<string, number>();
  readonly delays: number[] = [];
  readonly seen = new Set<string>();
  lastStoredAt = 0;
  connected = false;
  private req: http.ClientRequest | undefined;
  private buffer = '';

  static async open(baseUrl: string, userId: string): Promise<StreamWatcher> {
    const w = new StreamWatcher();
    await new Promise<void>((resolve, reject) => {
      w.req = http.get(
        `${baseUrl}/instagram-dms/stream`,
        {
          headers: {
            Accept: 'text/event-stream',
            Authorization: bearer(userId, undefined, 86_400),
          },
        },
        (res) => {
          w.connected = res.statusCode === 200;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => w.feed(chunk));
          res.on('error', () => undefined);
          resolve();
        },
      );
      w.req.on('error', reject);
    });
    return w;
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let at: number;
    while ((at = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(at + 2);
      let event = '';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (event !== 'dm' || !data) continue;
      try {
        const mid = (JSON.parse(data) as { message_id?: string }).message_id;
        if (mid) this.stored(mid);
      } catch {
        /* not JSON */
      }
    }
  }

  private stored(mid: string): void {
    const at = this.pending.get(mid);
    if (at === undefined) {
      if (!this.seen.has(mid)) this.seen.add(mid); // stored before its ack reached us
      return;
    }
    const now = Date.now();
    this.pending.delete(mid);
    this.seen.add(mid);
    this.delays.push(now - at);
    this.lastStoredAt = now;
  }

  acked(mids: string[], at: number): void {
    for (const m of mids) {
      if (this.seen.has(m)) {
        this.delays.push(0);
        this.lastStoredAt = Math.max(this.lastStoredAt, at);
      } else if (!this.pending.has(m)) this.pending.set(m, at);
    }
  }

  get outstanding(): number {
    return this.pending.size;
  }

  /** Acknowledged mids seen stored so far. */
  get storedCount(): number {
    return this.delays.length;
  }

  close(): void {
    this.req?.destroy();
  }
}

async function countStored(
  db: Db,
  mids: string[],
): Promise<{ stored: number; duplicates: number }> {
  const counts = await countByMid(db, mids);
  let duplicates = 0;
  for (const c of counts.values()) if (c > 1) duplicates += c - 1;
  return { stored: counts.size, duplicates };
}

/** A DM document shaped like igdm's (from a stored one when there is one), for direct seeding. */
function dmShape(template: Record<string, unknown> | null) {
  const { _id: _x, raw: _r, ...rest } = template ?? {};
  return (f: {
    accountId: string;
    igId: string;
    userId: string;
    customerId: string;
    mid: string;
    outbound: boolean;
    at: Date;
    text: string;
  }) => ({
    ...rest,
    _id: new ObjectId(),
    platform_account_id: f.accountId,
    user_id: f.userId,
    message_id: f.mid,
    customer_id: f.customerId,
    sender_id: f.outbound ? f.igId : f.customerId,
    recipient_id: f.outbound ? f.customerId : f.igId,
    direction: f.outbound ? 'outbound' : 'inbound',
    is_echo: f.outbound,
    text: f.text,
    message_type: 'text',
    read: f.outbound,
    seen: false,
    is_deleted: false,
    timestamp: f.at.getTime(),
    created_at: f.at,
    updated_at: f.at,
  });
}

/** `n` DMs of these customers (a third outbound) plus their ledger entries; returns the outbound mids. */
async function seedThreads(
  db: Db,
  accounts: { accountId: string; igId: string; customers: Customer[] }[],
  userId: string,
  n: number,
): Promise<{ igId: string; igsid: string; mid: string }[]> {
  const template = await db.collection('instagram_dms').findOne({});
  const make = dmShape(template);
  const targets: { igId: string; igsid: string; mid: string }[] = [];
  // The threads as igdm keeps them: each remembers its unseen outbound DMs for read receipts.
  const threads = new Map<
    string,
    Record<string, unknown> & { unseen_outbound: Record<string, number> }
  >();
  const base = Date.now() - n * 1000;
  for (let i = 0; i < n; i += 1000) {
    const docs = Array.from({ length: Math.min(1000, n - i) }, (_, k) => {
      const j = i + k;
      const a = accounts[j % accounts.length];
      const c = a.customers[Math.floor(j / accounts.length) % a.customers.length];
      const outbound = j % 3 === 0;
      const mid = `seed_rr_${j}_${c.igsid}`;
      const at = new Date(base + j * 1000);
      const threadId = `${a.accountId}:${c.igsid}`;
      const thread = threads.get(threadId) ?? {
        _id: threadId,
        user_id: userId,
        platform_account_id: a.accountId,
        ig_id: a.igId,
        customer_id: c.igsid,
        unread_count: 0,
        profile_pending: true,
        profile_attempts: 0,
        profile_retry_at: new Date(0),
        unseen_tracked: true,
        unseen_outbound: {},
        created_at: at,
      };
      threads.set(threadId, { ...thread, last_message_at: at, updated_at: at });
      const doc = make({
        accountId: a.accountId,
        igId: a.igId,
        userId,
        customerId: c.igsid,
        mid,
        outbound,
        at,
        text: `seeded ${j}`,
      });
      if (outbound) {
        targets.push({ igId: a.igId, igsid: c.igsid, mid });
        threads.get(threadId)!.unseen_outbound[doc._id.toHexString()] = at.getTime();
      }
      return doc;
    });
    await db.collection('instagram_dms').insertMany(docs, { ordered: false });
    await db.collection('instagram_dm_ids').insertMany(
      docs.map((d) => ({
        _id: `${d.platform_account_id}:${d.message_id}` as never,
        dm_id: d._id,
        platform_account_id: d.platform_account_id,
        created_at: d.created_at,
      })),
      { ordered: false },
    );
  }
  await db.collection('instagram_conversations').insertMany([...threads.values()] as never[], {
    ordered: false,
  });
  return targets;
}

interface Ctx {
  db: Db;
  meta: MetaSimulator;
  baseUrl: string;
  webhookUrl: string;
  userId: string;
  accounts: { igId: string; accountId: string; biz: Parameters<MetaSimulator['customer']>[0] }[];
  rss: RssSampler;
}

async function runIngest(s: Scenario, ctx: Ctx): Promise<IngestResult> {
  const wallStart = Date.now();
  // Fresh customers per scenario (with profile consent), so every scenario pays its profile calls.
  const accounts = ctx.accounts.map((a) => {
    const customers: Customer[] = newCustomers(40);
    for (const c of customers) ctx.meta.customer(a.biz, { igsid: c.igsid }).record.consent = true;
    return { igId: a.igId, accountId: a.accountId, customers };
  });
  let readTargets: { igId: string; igsid: string; mid: string }[] | undefined;
  if (s.seedDms) {
    const t0 = Date.now();
    readTargets = await seedThreads(ctx.db, accounts, ctx.userId, s.seedDms);
    log(
      `  ${s.name}: seeded ${s.seedDms} stored DMs (${readTargets.length} outbound, read receipts point at them) in ${Date.now() - t0} ms`,
    );
  }
  const factory = new DeliveryFactory(accounts, {
    eventsPerDelivery: s.eventsPerDelivery,
    duplicateRatio: s.duplicateRatio ?? 0,
    readRatio: s.readRatio ?? 0,
    readTargets,
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: s.concurrency });
  const watcher = await StreamWatcher.open(ctx.baseUrl, ctx.userId);
  const expected = new Set<string>();
  const ackLat: number[] = [];
  let acked = 0;
  let non200 = 0;
  let errors = 0;
  let eventsSent = 0;
  let readsSent = 0;
  let duplicatesSent = 0;
  ctx.rss.reset();

  const graphBefore = ctx.meta.requests().length;
  let faultTimer: NodeJS.Timeout | undefined;
  const faults: { hits: number; clear(): void }[] = [];
  if (s.graphErrorRatio) {
    // The simulator's faults are counted, not random: re-arm `times` to ~ratio of the calls seen.
    let budget = 0;
    let lastCount = graphBefore;
    faultTimer = setInterval(() => {
      const n = ctx.meta.requests().length;
      budget += (n - lastCount) * s.graphErrorRatio!;
      lastCount = n;
      const whole = Math.floor(budget);
      if (whole > 0) {
        budget -= whole;
        faults.push(ctx.meta.fault({ endpoint: '*', status5xx: 500, times: whole }));
      }
    }, 100);
    faults.push(ctx.meta.fault({ endpoint: '*', status5xx: 500, times: 1 }));
  }
  const seenBefore = s.seedDms
    ? await ctx.db.collection('instagram_dms').countDocuments({ seen: true })
    : 0;

  const started = Date.now();
  let lastProgress = started;
  await pool(s.deliveries, s.concurrency, async () => {
    const d = factory.next();
    eventsSent += d.mids.length + d.reads;
    readsSent += d.reads;
    if (d.duplicate) duplicatesSent++;
    const r = await postDelivery(ctx.webhookUrl, d.body, agent);
    ackLat.push(r.ms);
    if (r.status === 200) {
      acked++;
      for (const m of d.mids) expected.add(m);
      watcher.acked(d.mids, Date.now());
    } else if (r.status) non200++;
    else errors++;
    if (Date.now() - lastProgress > 2000) {
      lastProgress = Date.now();
      log(
        `  ${s.name}: ${acked + non200 + errors}/${s.deliveries} posted, ${watcher.storedCount}/${expected.size} stored`,
      );
    }
  });
  const ackDone = Date.now();
  let nextDbCheck = 0;
  for (;;) {
    if (watcher.outstanding === 0 || Date.now() - ackDone > DRAIN_TIMEOUT_MS) break;
    // Without the stream (or if it went silent for 10 s: missed events), the database is the
    // judge. Its check is a scan on FerretDB, so it is spaced out to a quarter of the time at most:
    // the judge must not slow down what it judges.
    const streamSilent = Date.now() - Math.max(watcher.lastStoredAt, ackDone) > 10_000;
    if (Date.now() >= nextDbCheck && (!watcher.connected || streamSilent)) {
      const t0 = Date.now();
      const { stored } = await countStored(ctx.db, [...expected]);
      if (stored === expected.size) break;
      nextDbCheck = Date.now() + Math.max(5_000, 3 * (Date.now() - t0));
    }
    if (Date.now() - lastProgress > 2000) {
      lastProgress = Date.now();
      log(`  ${s.name}: draining, ${watcher.storedCount}/${expected.size} stored`);
    }
    await sleep(50);
  }
  watcher.close();
  if (faultTimer) clearInterval(faultTimer);
  const injected = faults.reduce((n, f) => n + f.hits, 0);
  ctx.meta.clearFaults();
  agent.destroy();

  const mids = [...expected];
  const { stored, duplicates } = await countStored(ctx.db, mids);
  const readReceiptsApplied = s.seedDms
    ? (await ctx.db.collection('instagram_dms').countDocuments({ seen: true })) - seenBefore
    : undefined;
  const ackSecs = (ackDone - started) / 1000;
  const storeSecs = (Math.max(watcher.lastStoredAt, ackDone) - started) / 1000;
  return {
    scenario: s.name,
    concurrency: s.concurrency,
    eventsPerDelivery: s.eventsPerDelivery,
    deliveries: s.deliveries,
    acked,
    non200,
    errors,
    ackedPerS: Math.round(acked / ackSecs),
    storedEventsPerS: Math.round(stored / storeSecs),
    ackMs: {
      p50: percentile(ackLat, 50),
      p95: percentile(ackLat, 95),
      p99: percentile(ackLat, 99),
      max: percentile(ackLat, 100),
    },
    ackToStoredMs: {
      p50: percentile(watcher.delays, 50),
      p99: percentile(watcher.delays, 99),
      max: percentile(watcher.delays, 100),
    },
    eventsSent,
    readsSent,
    duplicatesSent,
    dmsExpected: mids.length,
    dmsStored: stored,
    duplicates,
    graphRequests: ctx.meta.requests().length - graphBefore,
    graphFaultsInjected: s.graphErrorRatio ? injected : 0,
    peakRssMb: mb(ctx.rss.peak),
    ...(s.seedDms ? { seededDms: s.seedDms, readReceiptsApplied } : {}),
    wallS: Math.round((Date.now() - wallStart) / 100) / 10,
  };
}

/**
 * Generated hostile webhook bodies (the reliability suite's generator: broken JSON, wrong types,
 * huge texts, unknown accounts, deep nesting), half signed, half badly signed; then waits for
 * what was accepted to be processed, so the next figures start from an empty queue.
 */
async function hostileFlood(ctx: Ctx) {
  const { makeBodyArbitrary } = await import('../test/reliability/support/hostile');
  const fc = (await import('fast-check')).default;
  const bodies = fc.sample(makeBodyArbitrary(ctx.accounts.map((a) => a.igId)), {
    numRuns: HOSTILE,
    seed: 15,
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  const statuses: Record<string, number> = {};
  const t0 = Date.now();
  let lastProgress = t0;
  await pool(bodies.length, 50, async (i) => {
    const body = bodies[i];
    const signed = i % 2 === 0;
    const r = signed
      ? await postDelivery(ctx.webhookUrl, body, agent)
      : await postSigned(
          ctx.webhookUrl,
          body,
          { sha256: 'sha256=00', sha1: 'sha1=00' },
          15_000,
          agent,
        ).promise.then((x) => ({ status: x.status ?? 0 }));
    const key = `${signed ? 'signed' : 'unsigned'} ${r.status || 'error'}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
    if (Date.now() - lastProgress > 5000) {
      lastProgress = Date.now();
      log(
        `  hostile: ${Object.values(statuses).reduce((a, b) => a + b, 0)}/${bodies.length} posted`,
      );
    }
  });
  agent.destroy();
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  const drainStart = Date.now();
  while (
    (await ctx.db.collection('webhook_pending').countDocuments({})) > 0 &&
    Date.now() - drainStart < DRAIN_TIMEOUT_MS
  )
    await sleep(500);
  return { bodies: bodies.length, statuses, seconds };
}

/** The database's own insert rate for documents shaped like stored DMs (plain driver). */
async function ceiling(db: Db, template: Record<string, unknown> | null) {
  const base = template ?? { text: 'x', direction: 'inbound' };
  const make = (i: number) => {
    const { _id: _ignored, ...rest } = base;
    return { ...rest, message_id: `ceiling_${i}_${Date.now()}`, created_at: new Date() };
  };
  const col = db.collection('bench_ceiling');
  await col.createIndex({ message_id: 1 });
  let t0 = Date.now();
  for (let i = 0; i < CEILING_DOCS; i += 100)
    await col.insertMany(
      Array.from({ length: Math.min(100, CEILING_DOCS - i) }, (_, k) => make(i + k)),
    );
  const insertManyPerS = Math.round(CEILING_DOCS / ((Date.now() - t0) / 1000));
  const n1 = Math.ceil(CEILING_DOCS / 2);
  t0 = Date.now();
  for (let i = 0; i < n1; i++) await col.insertOne(make(CEILING_DOCS + i));
  const insertOneSeqPerS = Math.round(n1 / ((Date.now() - t0) / 1000));
  t0 = Date.now();
  await pool(n1, 50, async (i) => {
    await col.insertOne(make(CEILING_DOCS * 2 + i));
  });
  const insertOneC50PerS = Math.round(n1 / ((Date.now() - t0) / 1000));
  await col.drop().catch(() => undefined);
  return { docs: CEILING_DOCS, insertManyPerS, insertOneSeqPerS, insertOneC50PerS };
}

/**
 * Grows account 0 to `n` stored DMs (insertMany of 1000) with one conversation per 20 DMs, so
 * the read figures are taken at a known size.
 */
async function seedForReads(db: Db, accountId: string, igId: string, userId: string, n: number) {
  const dms = db.collection('instagram_dms');
  const convs = db.collection('instagram_conversations');
  const template = await dms.findOne({ platform_account_id: accountId });
  const convTemplate = await convs.findOne({ platform_account_id: accountId });
  const make = dmShape(template);
  const have = await dms.countDocuments({ platform_account_id: accountId });
  const need = Math.max(0, n - have);
  const customers = Math.max(50, Math.round(n / 20));
  const t0 = Date.now();
  // Older than anything ingested, spread one second apart.
  const base = Date.now() - 400 * 24 * 3600_000;
  let lastLog = Date.now();
  for (let i = 0; i < need; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, need - i) }, (_, k) => {
      const j = have + i + k;
      const customerId = `seedcust${j % customers}`;
      return make({
        accountId,
        igId,
        userId,
        customerId,
        mid: `seed_${j}_${igId}`,
        outbound: j % 3 === 0,
        at: new Date(base + j * 1000),
        text: `seeded message ${j}`,
      });
    });
    await dms.insertMany(batch, { ordered: false });
    if (Date.now() - lastLog > 3000) {
      lastLog = Date.now();
      log(
        `  seeding DMs ${have + i + batch.length}/${n} (${Math.round(((i + batch.length) / (Date.now() - t0)) * 1000)}/s)`,
      );
    }
  }
  const haveConvs = await convs.countDocuments({ platform_account_id: accountId });
  const convDocs = Array.from({ length: customers }, (_, c) => {
    const { _id: _x, ...rest } = convTemplate ?? {};
    const at = new Date(base + (need + c) * 1000);
    return {
      ...rest,
      _id: `${accountId}:seedcust${c}`,
      platform_account_id: accountId,
      user_id: userId,
      customer_id: `seedcust${c}`,
      last_message_at: at,
      last_inbound_at: at,
      unread_count: 1,
      created_at: at,
      updated_at: at,
    };
  });
  for (let i = 0; i < convDocs.length; i += 1000)
    await convs
      .insertMany(convDocs.slice(i, i + 1000) as never[], { ordered: false })
      .catch(() => undefined); // existing ones (a smaller size seeded earlier) stay
  const totalConvs = await convs.countDocuments({ platform_account_id: accountId });
  return {
    dms: have + need,
    seeded: need,
    conversations: totalConvs,
    seededConversations: totalConvs - haveConvs,
    seedMs: Date.now() - t0,
  };
}

interface ReadFigure {
  p50: number;
  p95: number;
  p99: number;
  samples: number;
  status: string;
}

async function timeRoute(url: string, headers: Record<string, string>, agent: http.Agent) {
  const ms: number[] = [];
  const statuses = new Set<number>();
  const t0 = Date.now();
  while (ms.length < READ_SAMPLES && (ms.length < 3 || Date.now() - t0 < READ_FIGURE_BUDGET_MS)) {
    const r = await getJson(url, headers, agent, 300_000);
    statuses.add(r.status);
    ms.push(r.ms);
  }
  return {
    p50: percentile(ms, 50),
    p95: percentile(ms, 95),
    p99: percentile(ms, 99),
    samples: ms.length,
    status: [...statuses].join('/'),
  };
}

/** First page and a keyset page half-way down, for the DM list and the conversations list. */
async function readBench(db: Db, baseUrl: string, userId: string, accountId: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const headers = { Authorization: bearer(userId, undefined, 86_400) };
  const out: Record<string, ReadFigure> = {};
  const dmFilter = { platform_account_id: accountId, is_deleted: false, is_unsent: { $ne: true } };
  const nDms = await db.collection('instagram_dms').countDocuments(dmFilter);
  const middle = await db
    .collection('instagram_dms')
    .find(dmFilter, { projection: { created_at: 1 } })
    .sort({ created_at: -1, _id: -1 })
    .skip(Math.floor(nDms / 2))
    .limit(1)
    .next();
  const nConvs = await db
    .collection('instagram_conversations')
    .countDocuments({ platform_account_id: accountId });
  const midConv = await db
    .collection('instagram_conversations')
    .find({ platform_account_id: accountId }, { projection: { last_message_at: 1 } })
    .sort({ last_message_at: -1, _id: -1 })
    .skip(Math.floor(nConvs / 2))
    .limit(1)
    .next();
  const base = `${baseUrl}/instagram-dms`;
  const q = `platform_account_id=${accountId}&limit=50`;
  out['list first page'] = await timeRoute(`${base}/list?${q}`, headers, agent);
  if (middle) {
    const cursor = encodeCursor({
      t: (middle.created_at as Date).getTime(),
      id: String(middle._id),
    });
    out[`list keyset page at ${Math.floor(nDms / 2)}`] = await timeRoute(
      `${base}/list?${q}&cursor=${encodeURIComponent(cursor)}`,
      headers,
      agent,
    );
  }
  out['conversations first page'] = await timeRoute(`${base}/conversations?${q}`, headers, agent);
  if (midConv) {
    const cursor = encodeCursor({
      t: (midConv.last_message_at as Date).getTime(),
      id: String(midConv._id),
    });
    out[`conversations keyset page at ${Math.floor(nConvs / 2)}`] = await timeRoute(
      `${base}/conversations?${q}&cursor=${encodeURIComponent(cursor)}`,
      headers,
      agent,
    );
  }
  agent.destroy();
  return { storedDms: nDms, conversations: nConvs, figures: out };
}

function machine() {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const lscpu = execSync('lscpu', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /Model name:\s*(.+)/.exec(lscpu);
    if (m) model = m[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    nproc: availableParallelism(),
    cpu: model,
    memGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** What the database is: its kind, version and (for DATABASE_URL) host, never credentials. */
async function describeDatabase(db: Db, kind: string, url: string): Promise<string> {
  let version = '';
  try {
    const info = await db.admin().command({ buildInfo: 1 });
    if (info.ferretdbVersion) {
      let v = String(info.ferretdbVersion);
      if (v === 'unknown') {
        // The embedded build carries no version.txt: read the pinned library version instead.
        const mod = /github\.com\/FerretDB\/FerretDB (v[\d.]+)/.exec(
          readFileSync(join(ROOT, 'tools', 'ferretdb', 'go.mod'), 'utf8'),
        );
        v = mod ? `${mod[1]} (tools/ferretdb/go.mod)` : v;
      }
      version = `FerretDB ${v}, MongoDB wire ${String(info.version)}`;
    } else version = `MongoDB ${String(info.version)}`;
  } catch {
    /* no buildInfo */
  }
  if (kind.startsWith('embedded')) return `${kind}${version ? `, ${version}` : ''}`;
  let host = 'DATABASE_URL';
  try {
    const u = new URL(url);
    host = `${u.protocol}//${u.host}`;
  } catch {
    host = url.replace(/\/\/[^@/]*@/, '//');
  }
  return `DATABASE_URL ${host}${version ? `, ${version}` : ''}`;
}

async function main(): Promise<void> {
  const benchStarted = Date.now();
  const wanted = flag('scenarios')?.split(',');
  const scenarios = SCENARIOS.filter((x) => !wanted || wanted.includes(x.name));
  const hostileWanted = !flag('skip-hostile') && scenarios.some((x) => x.name === 'c50-e1');
  const steps =
    3 +
    scenarios.length +
    (flag('skip-ceiling') ? 0 : 1) +
    (hostileWanted ? 2 : 0) +
    (flag('skip-reads') ? 0 : READ_SIZES.length);
  let step = 0;
  const stepLog = (what: string) =>
    log(`(${++step}/${steps}, ${Math.round((Date.now() - benchStarted) / 1000)} s) ${what}`);

  stepLog('database');
  let stopDb: (() => Promise<void>) | undefined;
  let dbUrl = process.env.DATABASE_URL;
  let dbKind = 'external (DATABASE_URL)';
  if (!dbUrl) {
    const db = await startEmbeddedDatabase({
      dataDir: mkdtempSync(join(tmpdir(), 'igdm-bench-')),
      log: (l) => log(l),
    });
    dbUrl = db.uri;
    dbKind = db.kind === 'ferretdb' ? 'embedded FerretDB v1 (SQLite)' : 'embedded mongod';
    stopDb = () => db.stop();
  }
  const dbName = randomName('igdm_bench');
  const { client, db } = await connectDb(dbUrl, dbName);
  // A failed run still stops what it started (the igdm child is reaped on exit by spawnIgdm).
  process.once('exit', () => void stopDb?.());
  const database = await describeDatabase(db, dbKind, dbUrl);
  const host = machine();
  log(`database: ${database}; machine: ${host.nproc} × ${host.cpu}, ${host.memGb} GB`);

  stepLog('igdm start-up');
  const meta = await startMetaSimulator({ graphLatencyMs: GRAPH_LATENCY });
  const port = await freePort();
  const igdm = await spawnIgdm(
    igdmEnv({
      databaseUrl: dbUrl,
      databaseName: dbName,
      port,
      graphUrl: meta.graphUrl,
      apiUrl: meta.apiUrl,
      extra: { DMS_STREAM_POLL_MS: '0' },
    }),
    {
      compiled: true,
      timeoutMs: 180_000,
      onOutput: (c) => {
        // The compile's progress lines, so a first run is not silent.
        if (c.startsWith('igdm: ')) process.stderr.write(c);
      },
    },
  );
  // Idle RSS: after start-up, once the heap has settled a moment (10 samples, 100 ms apart).
  const idleSamples: number[] = [];
  while (idleSamples.length < 10) {
    idleSamples.push(rssOf(igdm.pid));
    await sleep(100);
  }
  const idleRssMb = mb(idleSamples[idleSamples.length - 1]);
  log(
    `igdm up in ${igdm.startupMs} ms (/health 200; compiled build, as npm start runs it), idle RSS ${idleRssMb} MB`,
  );
  const rss = new RssSampler(() => igdm.pid);
  const webhookUrl = `${igdm.url}/webhook/instagram`;
  meta.setWebhookUrl(webhookUrl);

  stepLog('accounts');
  const userId = randomName('bench_user');
  const accounts: Ctx['accounts'] = [];
  for (let i = 0; i < 2; i++) {
    const biz = meta.createBusiness({ username: `bench_shop_${i}` });
    const accountId = await insertAccount(db, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
      username: biz.username,
      name: biz.name,
    });
    accounts.push({ igId: biz.igId, accountId, biz });
  }
  const ctx: Ctx = { db, meta, baseUrl: igdm.url, webhookUrl, userId, accounts, rss };

  const results: IngestResult[] = [];
  for (const s of scenarios) {
    stepLog(
      `ingest ${s.name}: ${s.deliveries} deliveries × ${s.eventsPerDelivery} events at concurrency ${s.concurrency}`,
    );
    const r = await runIngest(s, ctx);
    results.push(r);
    log(
      `  ${s.name}: ${r.ackedPerS} acks/s, ${r.storedEventsPerS} events/s stored, ack p50 ${r.ackMs.p50} ms, ack→stored p50 ${r.ackToStoredMs.p50} ms, stored ${r.dmsStored}/${r.dmsExpected}, dup ${r.duplicates} (${r.wallS} s)`,
    );
  }

  let hostile: Awaited<ReturnType<typeof hostileFlood>> | null = null;
  let afterHostile: IngestResult | null = null;
  if (hostileWanted) {
    stepLog(`hostile input: ${HOSTILE} generated webhook bodies at concurrency 50`);
    hostile = await hostileFlood(ctx);
    log(`  ${JSON.stringify(hostile.statuses)} in ${hostile.seconds} s`);
    const base = SCENARIOS.find((x) => x.name === 'c50-e1')!;
    stepLog(`ingest c50-e1 again, after the hostile bodies`);
    afterHostile = { ...(await runIngest(base, ctx)), scenario: 'c50-e1 after hostile' };
    results.push(afterHostile);
  }

  let ceil: Awaited<ReturnType<typeof ceiling>> | null = null;
  if (!flag('skip-ceiling')) {
    stepLog(`ceiling: plain-driver inserts of ${CEILING_DOCS} DM-shaped documents`);
    const template = await db.collection('instagram_dms').findOne({});
    ceil = await ceiling(db, template);
  }

  const reads: {
    size: number;
    seed: Awaited<ReturnType<typeof seedForReads>>;
    storedDms: number;
    conversations: number;
    figures: Record<string, ReadFigure>;
    peakRssMb: number;
  }[] = [];
  if (!flag('skip-reads')) {
    for (const size of READ_SIZES) {
      stepLog(`reads at ${size} stored DMs: seeding, then timing list and conversations`);
      const seed = await seedForReads(db, accounts[0].accountId, accounts[0].igId, userId, size);
      log(
        `  ${seed.dms} DMs (${seed.seeded} seeded in ${seed.seedMs} ms), ${seed.conversations} conversations`,
      );
      rss.reset();
      const r = await readBench(db, igdm.url, userId, accounts[0].accountId);
      reads.push({ size, seed, ...r, peakRssMb: mb(rss.peak) });
      for (const [k, v] of Object.entries(r.figures))
        log(`  ${k}: p50 ${v.p50} ms, p95 ${v.p95} ms, p99 ${v.p99} ms (${v.samples} samples)`);
    }
  }

  rss.stop();
  await igdm.stop();
  await meta.close();
  await db.dropDatabase().catch(() => undefined);
  await client.close();
  await stopDb?.();

  // ----- output -----
  const bestIngest = Math.max(0, ...results.map((r) => r.storedEventsPerS));
  const lines: string[] = [];
  lines.push('');
  lines.push(`igdm bench — ${new Date().toISOString()}`);
  lines.push(`database: ${database}`);
  lines.push(
    `machine: ${host.nproc} × ${host.cpu}, ${host.memGb} GB RAM, Node ${host.node} (${host.platform}); ` +
      `igdm: separate process (compiled, as npm start runs it); Meta simulator Graph latency ${GRAPH_LATENCY} ms`,
  );
  lines.push(
    `start-up to /health 200: ${igdm.startupMs} ms (compiled build); idle RSS ${idleRssMb} MB`,
  );
  lines.push('');
  const head = [
    'scenario',
    'acked',
    'acks/s',
    'ev/s stored',
    'ack p50/p95/p99/max ms',
    'ack→stored p50/p99 ms',
    'stored/expected',
    'dup',
    'non200/err',
    'graph req/faults',
    'peak RSS MB',
  ];
  const rows = results.map((r) => [
    r.scenario,
    `${r.acked}/${r.deliveries}`,
    String(r.ackedPerS),
    String(r.storedEventsPerS),
    `${r.ackMs.p50}/${r.ackMs.p95}/${r.ackMs.p99}/${r.ackMs.max}`,
    `${r.ackToStoredMs.p50}/${r.ackToStoredMs.p99}`,
    `${r.dmsStored}/${r.dmsExpected}${r.dmsStored === r.dmsExpected ? '' : ' MISMATCH'}`,
    String(r.duplicates),
    `${r.non200}/${r.errors}`,
    `${r.graphRequests}/${r.graphFaultsInjected}`,
    String(r.peakRssMb),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join(' | ');
  lines.push(fmt(head));
  lines.push(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) lines.push(fmt(row));
  const notes: string[] = [];
  for (const r of results) {
    if (r.duplicatesSent) notes.push(`${r.scenario}: ${r.duplicatesSent} exact re-deliveries sent`);
    if (r.readsSent)
      notes.push(
        `${r.scenario}: ${r.readsSent} read receipts over ${r.seededDms ?? 0} seeded DMs, ${r.readReceiptsApplied ?? 0} outbound DMs marked seen`,
      );
  }
  if (notes.length) lines.push(`(${notes.join('; ')})`);
  const before = results.find((r) => r.scenario === 'c50-e1');
  if (hostile && before && afterHostile) {
    lines.push('');
    lines.push(
      `hostile input: ${hostile.bodies} generated bodies in ${hostile.seconds} s, ${JSON.stringify(hostile.statuses)}; ` +
        `c50-e1 after them: ${afterHostile.ackedPerS} acks/s (${Math.round((afterHostile.ackedPerS / before.ackedPerS) * 100)} % of before), ` +
        `ack p99 ${afterHostile.ackMs.p99} ms (${Math.round((afterHostile.ackMs.p99 / before.ackMs.p99) * 100)} % of before's ${before.ackMs.p99} ms), ` +
        `${afterHostile.storedEventsPerS} stored ev/s (before ${before.storedEventsPerS})`,
    );
  }
  if (ceil) {
    lines.push('');
    lines.push(
      `ceiling (plain driver, ${ceil.docs} DM-shaped docs): insertMany(100) ${ceil.insertManyPerS} docs/s, ` +
        `insertOne sequential ${ceil.insertOneSeqPerS}/s, insertOne ×50 concurrent ${ceil.insertOneC50PerS}/s`,
    );
    lines.push(
      `igdm best ingest ${bestIngest} events/s stored = ${Math.round((bestIngest / ceil.insertManyPerS) * 100)} % of insertMany, ` +
        `${Math.round((bestIngest / ceil.insertOneC50PerS) * 100)} % of concurrent insertOne`,
    );
  }
  for (const r of reads) {
    lines.push('');
    lines.push(
      `reads at ${r.storedDms} stored DMs / ${r.conversations} conversations of one account ` +
        `(seeded with insertMany), limit 50, up to ${READ_SAMPLES} samples (${READ_FIGURE_BUDGET_MS / 1000} s budget) each, peak RSS ${r.peakRssMb} MB:`,
    );
    for (const [k, v] of Object.entries(r.figures))
      lines.push(
        `  ${k.padEnd(36)} p50 ${v.p50} ms  p95 ${v.p95} ms  p99 ${v.p99} ms  (${v.samples} samples, HTTP ${v.status})`,
      );
  }
  lines.push('');
  lines.push(`total bench time ${Math.round((Date.now() - benchStarted) / 1000)} s`);
  process.stdout.write(lines.join('\n') + '\n');

  const resultsDir = join(__dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    join(resultsDir, 'latest.json'),
    JSON.stringify(
      {
        at: new Date().toISOString(),
        database,
        machine: host,
        igdm: 'separate process: node scripts/start.js (dist/main.js, as npm start)',
        graphLatencyMs: GRAPH_LATENCY,
        startupMs: igdm.startupMs,
        hostile,
        idleRssMb,
        ingest: results,
        ceiling: ceil
          ? {
              ...ceil,
              bestIngestEventsPerS: bestIngest,
              percentOfInsertMany: Math.round((bestIngest / ceil.insertManyPerS) * 100),
            }
          : null,
        reads,
        totalS: Math.round((Date.now() - benchStarted) / 1000),
      },
      null,
      2,
    ) + '\n',
  );
  log('wrote bench/results/latest.json');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `[bench] failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  },
);
