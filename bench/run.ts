/**
 * igdm benchmark: `npm run bench [-- --flags]`. Prints figures and never fails on timing.
 *
 * Database: DATABASE_URL when set, else the embedded one (mongod or FerretDB v1/SQLite) in a
 * temporary folder. Meta: the simulator in this process (graphLatencyMs 50 by default). igdm: a
 * separate process (`node -r ts-node/register/transpile-only src/main.ts`), so its RSS and
 * start-up are its own and the load generator does not share its event loop.
 *
 * Flags (all optional):
 *   --deliveries N        deliveries per ingest scenario (default 300; concurrency-1 runs use N/3)
 *   --scenarios a,b       subset of scenario names (see SCENARIOS)
 *   --reads N             DMs stored for the read benchmark (default 10000; --big-reads = 100000)
 *   --read-samples N      requests per read figure (default 40)
 *   --ceiling N           documents for the plain-driver ceiling (default 2000)
 *   --graph-latency MS    simulator Graph latency (default 50)
 *   --drain-timeout S     max wait for acked events to be stored (default 120)
 *   --skip-reads, --skip-ceiling
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from 'mongodb';
import { startMetaSimulator, type MetaSimulator } from '../meta-simulator';
import { startEmbeddedDatabase } from '../src/database/embedded-database';
import {
  bearer,
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
const num = (name: string, d: number) => (flag(name) ? Number(flag(name)) : d);

const DELIVERIES = num('deliveries', 300);
const READS = flag('big-reads') ? 100_000 : num('reads', 10_000);
const READ_SAMPLES = num('read-samples', 40);
const CEILING_DOCS = num('ceiling', 2000);
const GRAPH_LATENCY = num('graph-latency', 50);
const DRAIN_TIMEOUT_MS = num('drain-timeout', 120) * 1000;

interface Scenario {
  name: string;
  concurrency: number;
  eventsPerDelivery: number;
  deliveries: number;
  graphErrorRatio?: number;
  duplicateRatio?: number;
  readRatio?: number;
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
    name: 'c50-e1-reads5%',
    concurrency: 50,
    eventsPerDelivery: 1,
    deliveries: DELIVERIES,
    readRatio: 0.05,
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
  dmsExpected: number;
  dmsStored: number;
  duplicates: number;
  graphRequests: number;
  graphFaultsInjected: number;
  peakRssMb: number;
}

const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

/** Watches the database for acked mids and records ack→stored times (polling, 50 ms). */
class StoredWatcher {
  private readonly pending = new Map<string, number>();
  readonly delays: number[] = [];
  readonly seen = new Set<string>();
  lastStoredAt = 0;
  private running = true;
  private loop: Promise<void>;
  constructor(private readonly db: Db) {
    this.loop = this.run();
  }
  acked(mids: string[], at: number): void {
    for (const m of mids) if (!this.seen.has(m) && !this.pending.has(m)) this.pending.set(m, at);
  }
  get outstanding(): number {
    return this.pending.size;
  }
  private async run(): Promise<void> {
    while (this.running) {
      const batch = [...this.pending.keys()].slice(0, 1000);
      if (batch.length) {
        const docs = await this.db
          .collection('instagram_dms')
          .find({ message_id: { $in: batch } }, { projection: { message_id: 1 } })
          .toArray();
        const now = Date.now();
        for (const d of docs) {
          const mid = d.message_id as string;
          const at = this.pending.get(mid);
          if (at === undefined) continue;
          this.pending.delete(mid);
          this.seen.add(mid);
          this.delays.push(now - at);
          this.lastStoredAt = now;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

async function countStored(
  db: Db,
  mids: string[],
): Promise<{ stored: number; duplicates: number }> {
  const counts = new Map<string, number>();
  for (let i = 0; i < mids.length; i += 1000) {
    const docs = await db
      .collection('instagram_dms')
      .find({ message_id: { $in: mids.slice(i, i + 1000) } }, { projection: { message_id: 1 } })
      .toArray();
    for (const d of docs) {
      const mid = String(d.message_id);
      counts.set(mid, (counts.get(mid) ?? 0) + 1);
    }
  }
  let duplicates = 0;
  for (const c of counts.values()) if (c > 1) duplicates += c - 1;
  return { stored: counts.size, duplicates };
}

async function runIngest(
  s: Scenario,
  ctx: {
    db: Db;
    meta: MetaSimulator;
    webhookUrl: string;
    accounts: { igId: string; biz: Parameters<MetaSimulator['customer']>[0] }[];
    rss: RssSampler;
  },
): Promise<IngestResult> {
  // Fresh customers per scenario (with profile consent), so every scenario pays its profile calls.
  const accounts = ctx.accounts.map((a) => {
    const customers: Customer[] = newCustomers(40);
    for (const c of customers) ctx.meta.customer(a.biz, { igsid: c.igsid }).record.consent = true;
    return { igId: a.igId, customers };
  });
  const factory = new DeliveryFactory(accounts, {
    eventsPerDelivery: s.eventsPerDelivery,
    duplicateRatio: s.duplicateRatio ?? 0,
    readRatio: s.readRatio ?? 0,
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: s.concurrency });
  const watcher = new StoredWatcher(ctx.db);
  const expected = new Set<string>();
  const ackLat: number[] = [];
  let acked = 0;
  let non200 = 0;
  let errors = 0;
  let eventsSent = 0;
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

  const started = Date.now();
  let lastProgress = started;
  await pool(s.deliveries, s.concurrency, async () => {
    const d = factory.next();
    eventsSent += d.mids.length + d.reads;
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
        `  ${s.name}: ${acked + non200 + errors}/${s.deliveries} posted, ${watcher.seen.size}/${expected.size} stored`,
      );
    }
  });
  const ackDone = Date.now();
  await new Promise<void>((res) => {
    const t = setInterval(() => {
      if (watcher.outstanding === 0 || Date.now() - ackDone > DRAIN_TIMEOUT_MS) {
        clearInterval(t);
        res();
      } else if (Date.now() - lastProgress > 2000) {
        lastProgress = Date.now();
        log(`  ${s.name}: draining, ${watcher.seen.size}/${expected.size} stored`);
      }
    }, 50);
  });
  await watcher.stop();
  if (faultTimer) clearInterval(faultTimer);
  const injected = faults.reduce((n, f) => n + f.hits, 0);
  ctx.meta.clearFaults();
  agent.destroy();

  const mids = [...expected];
  const { stored, duplicates } = await countStored(ctx.db, mids);
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
    dmsExpected: mids.length,
    dmsStored: stored,
    duplicates,
    graphRequests: ctx.meta.requests().length - graphBefore,
    graphFaultsInjected: s.graphErrorRatio ? injected : 0,
    peakRssMb: mb(ctx.rss.peak),
  };
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

async function seedForReads(db: Db, accountId: string, igId: string, userId: string, n: number) {
  const dms = db.collection('instagram_dms');
  const template = await dms.findOne({ platform_account_id: accountId });
  const convs = db.collection('instagram_conversations');
  const convTemplate = await convs.findOne({ platform_account_id: accountId });
  const have = await dms.countDocuments({ platform_account_id: accountId });
  const need = Math.max(0, n - have);
  const customers = 500;
  const t0 = Date.now();
  const base = Date.now() - need * 1000;
  for (let i = 0; i < need; i += 500) {
    const batch = Array.from({ length: Math.min(500, need - i) }, (_, k) => {
      const j = i + k;
      const { _id: _x, ...rest } = template ?? {};
      const at = new Date(base + j * 1000);
      return {
        ...rest,
        platform_account_id: accountId,
        ig_id: igId,
        user_id: userId,
        message_id: `seed_${j}_${igId}`,
        customer_id: `seedcust${j % customers}`,
        sender_id: `seedcust${j % customers}`,
        recipient_id: igId,
        direction: 'inbound',
        text: `seeded message ${j}`,
        created_at: at,
        updated_at: at,
        timestamp: at.getTime(),
      };
    });
    await dms.insertMany(batch, { ordered: false });
    if ((i / 500) % 10 === 0) log(`  seeding DMs ${i + batch.length}/${need}`);
  }
  const convDocs = Array.from({ length: customers }, (_, c) => {
    const { _id: _x, ...rest } = convTemplate ?? {};
    const at = new Date(base + c * 1000);
    return {
      ...rest,
      _id: `${accountId}:seedcust${c}`,
      platform_account_id: accountId,
      user_id: userId,
      customer_id: `seedcust${c}`,
      last_message_at: at,
      last_inbound_at: at,
      unread_count: 1,
    };
  });
  await convs.insertMany(convDocs as never[], { ordered: false }).catch(() => undefined);
  return { seeded: need, seedMs: Date.now() - t0 };
}

async function readBench(baseUrl: string, userId: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const headers = { Authorization: bearer(userId) };
  const out: Record<string, { p50: number; p95: number; p99: number; status: string }> = {};
  for (const route of ['list', 'conversations'] as const) {
    const first: number[] = [];
    const statuses = new Set<number>();
    let cursor: string | null = null;
    for (let i = 0; i < READ_SAMPLES; i++) {
      const r = await getJson(`${baseUrl}/instagram-dms/${route}?limit=50`, headers, agent);
      statuses.add(r.status);
      first.push(r.ms);
      cursor = r.body?.next_cursor ?? null;
    }
    out[`${route} first page`] = {
      p50: percentile(first, 50),
      p95: percentile(first, 95),
      p99: percentile(first, 99),
      status: [...statuses].join('/'),
    };
    // Deep keyset page: follow next_cursor DEPTH pages, then time that page repeatedly.
    const depth = route === 'list' ? 100 : 8;
    let pages = 1;
    while (cursor && pages < depth) {
      const r = await getJson(
        `${baseUrl}/instagram-dms/${route}?limit=50&cursor=${encodeURIComponent(cursor)}`,
        headers,
        agent,
      );
      cursor = r.body?.next_cursor ?? null;
      pages++;
    }
    const deep: number[] = [];
    const dStatuses = new Set<number>();
    if (cursor)
      for (let i = 0; i < READ_SAMPLES; i++) {
        const r = await getJson(
          `${baseUrl}/instagram-dms/${route}?limit=50&cursor=${encodeURIComponent(cursor)}`,
          headers,
          agent,
        );
        dStatuses.add(r.status);
        deep.push(r.ms);
      }
    out[cursor ? `${route} page ${pages + 1} (keyset)` : `${route} deep page`] = {
      p50: percentile(deep, 50),
      p95: percentile(deep, 95),
      p99: percentile(deep, 99),
      status: cursor ? [...dStatuses].join('/') : 'no cursor (fewer pages)',
    };
  }
  agent.destroy();
  return out;
}

async function main(): Promise<void> {
  const benchStarted = Date.now();
  let stopDb: (() => Promise<void>) | undefined;
  let dbUrl = process.env.DATABASE_URL;
  let dbKind = 'external (DATABASE_URL)';
  if (!dbUrl) {
    log('starting the embedded database...');
    const db = await startEmbeddedDatabase({
      dataDir: mkdtempSync(join(tmpdir(), 'igdm-bench-')),
      log: (l) => log(l),
    });
    dbUrl = db.uri;
    dbKind = db.kind === 'ferretdb' ? 'embedded FerretDB v1 (SQLite)' : 'embedded mongod';
    stopDb = () => db.stop();
  }
  log(`database: ${dbKind}`);
  const dbName = randomName('igdm_bench');
  const { client, db } = await connectDb(dbUrl, dbName);

  const meta = await startMetaSimulator({ graphLatencyMs: GRAPH_LATENCY });
  const port = await freePort();
  log(`starting igdm (separate process, ts-node transpile-only) on port ${port}...`);
  const igdm = await spawnIgdm(
    igdmEnv({
      databaseUrl: dbUrl,
      databaseName: dbName,
      port,
      graphUrl: meta.graphUrl,
      apiUrl: meta.apiUrl,
    }),
  );
  // Idle RSS: after start-up, once the heap has settled a moment (poll 10 samples).
  const idleSamples: number[] = [];
  await new Promise<void>((res) => {
    const t = setInterval(() => {
      idleSamples.push(rssOf(igdm.pid));
      if (idleSamples.length >= 10) {
        clearInterval(t);
        res();
      }
    }, 100);
  });
  const idleRssMb = mb(idleSamples[idleSamples.length - 1]);
  log(`igdm up in ${igdm.startupMs} ms, idle RSS ${idleRssMb} MB`);
  const rss = new RssSampler(() => igdm.pid);
  const webhookUrl = `${igdm.url}/webhook/instagram`;
  meta.setWebhookUrl(webhookUrl);

  const userId = randomName('bench_user');
  const accounts: {
    igId: string;
    accountId: string;
    biz: ReturnType<MetaSimulator['createBusiness']>;
  }[] = [];
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
  log(`2 business accounts for ${userId}`);

  const wanted = flag('scenarios')?.split(',');
  const results: IngestResult[] = [];
  const ingestOnly = accounts.map((a) => ({ igId: a.igId, biz: a.biz }));
  for (const s of SCENARIOS.filter((x) => !wanted || wanted.includes(x.name))) {
    log(`scenario ${s.name}: ${s.deliveries} deliveries at concurrency ${s.concurrency}...`);
    const r = await runIngest(s, { db, meta, webhookUrl, accounts: ingestOnly, rss });
    results.push(r);
    log(
      `  ${s.name}: ${r.ackedPerS} acks/s, ${r.storedEventsPerS} events/s stored, ack p50 ${r.ackMs.p50} ms, stored ${r.dmsStored}/${r.dmsExpected}, dup ${r.duplicates}`,
    );
  }

  let ceil: Awaited<ReturnType<typeof ceiling>> | null = null;
  if (!flag('skip-ceiling')) {
    log(`ceiling: plain driver inserts of ${CEILING_DOCS} DM-shaped documents...`);
    const template = await db.collection('instagram_dms').findOne({});
    ceil = await ceiling(db, template);
  }

  let reads: Awaited<ReturnType<typeof readBench>> | null = null;
  let seedInfo: Awaited<ReturnType<typeof seedForReads>> | null = null;
  if (!flag('skip-reads')) {
    log(`reads: seeding ${READS} DMs for account 0...`);
    seedInfo = await seedForReads(db, accounts[0].accountId, accounts[0].igId, userId, READS);
    log('reads: timing list and conversations...');
    rss.reset();
    reads = await readBench(igdm.url, userId);
  }
  const readsPeakRssMb = mb(rss.peak);

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
  lines.push(
    `igdm bench — database: ${dbKind}; igdm: separate process (ts-node); Graph latency ${GRAPH_LATENCY} ms`,
  );
  lines.push(
    `start-up to /health 200: ${igdm.startupMs} ms (incl. ts-node transpile); idle RSS ${idleRssMb} MB`,
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
  if (reads) {
    lines.push('');
    lines.push(
      `reads at ${READS} stored DMs of one account (seeded ${seedInfo?.seeded} directly in ${seedInfo?.seedMs} ms), limit 50, ${READ_SAMPLES} samples each, peak RSS ${readsPeakRssMb} MB:`,
    );
    for (const [k, v] of Object.entries(reads))
      lines.push(
        `  ${k.padEnd(28)} p50 ${v.p50} ms  p95 ${v.p95} ms  p99 ${v.p99} ms  (HTTP ${v.status})`,
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
        database: dbKind,
        igdm: 'separate process: node -r ts-node/register/transpile-only src/main.ts',
        graphLatencyMs: GRAPH_LATENCY,
        startupMs: igdm.startupMs,
        idleRssMb,
        ingest: results,
        ceiling: ceil,
        reads: reads
          ? { storedDms: READS, samples: READ_SAMPLES, peakRssMb: readsPeakRssMb, ...reads }
          : null,
      },
      null,
      2,
    ),
  );
  log(`wrote bench/results/latest.json`);
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
