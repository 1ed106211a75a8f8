/**
 * Pieces of the fault and scale-out specs: a Meta simulator with businesses and customers, igdm
 * instances as child processes (real crashes, real restarts), a Meta-like delivery driver that
 * retries what was not acknowledged, and the "stored exactly once" verdict.
 */
import http from 'node:http';
import type { Db } from 'mongodb';
import { MongoClient } from 'mongodb';
import { join } from 'node:path';
import {
  connectDb,
  countByMid,
  DeliveryFactory,
  freePort,
  igdmEnv,
  insertAccount,
  newCustomers,
  postDelivery,
  randomName,
  ROOT,
  spawnIgdm,
  type Customer,
  type IgdmProcess,
} from '../../../bench/lib';
import { startMetaSimulator, type MetaSimulator } from '../../../meta-simulator';

export const log = (line: string) => process.stdout.write(`[reliability] ${line}\n`);

export interface StackAccount {
  igId: string;
  accountId: string;
  biz: ReturnType<MetaSimulator['createBusiness']>;
  customers: Customer[];
}

export interface Stack {
  dbUrl: string;
  dbName: string;
  client: MongoClient;
  db: Db;
  meta: MetaSimulator;
  userId: string;
  accounts: StackAccount[];
  close(): Promise<void>;
}

export async function startStack(opts: {
  dbUrl: string;
  accounts?: number;
  customersPerAccount?: number;
  graphLatencyMs?: number;
  /** Business options (e.g. token times for the refresh race). */
  business?: Parameters<MetaSimulator['createBusiness']>[0];
  /** Extra accounts-document fields (e.g. token_expires_at). */
  accountExtra?: Record<string, unknown>;
}): Promise<Stack> {
  const dbName = randomName('igdm_rel');
  const { client, db } = await connectDb(opts.dbUrl, dbName);
  const meta = await startMetaSimulator({ graphLatencyMs: opts.graphLatencyMs ?? 0 });
  const userId = randomName('rel_user');
  const accounts: StackAccount[] = [];
  for (let i = 0; i < (opts.accounts ?? 2); i++) {
    const biz = meta.createBusiness({ username: `rel_shop_${i}`, ...opts.business });
    const accountId = await insertAccount(db, {
      userId,
      igId: biz.igId,
      accessToken: biz.accessToken,
      username: biz.username,
      name: biz.name,
    });
    if (opts.accountExtra)
      await db
        .collection('accounts')
        .updateOne({ 'instagram_data.ig_id': biz.igId }, { $set: opts.accountExtra });
    const customers = newCustomers(opts.customersPerAccount ?? 20);
    for (const c of customers) meta.customer(biz, { igsid: c.igsid }).record.consent = true;
    accounts.push({ igId: biz.igId, accountId, biz, customers });
  }
  return {
    dbUrl: opts.dbUrl,
    dbName,
    client,
    db,
    meta,
    userId,
    accounts,
    close: async () => {
      await meta.close();
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}

/** Short timings so retries, sweeps and lease expiry happen within a test. */
export const FAST_WORKER_ENV: Record<string, string> = {
  WEBHOOK_SWEEP_INTERVAL_MS: '500',
  WEBHOOK_RETRY_BASE_MS: '200',
  WEBHOOK_ENRICH_RETRY_MS: '200',
  WEBHOOK_LEASE_MS: '5000',
  WEBHOOK_MAX_ATTEMPTS: '50',
  GRAPH_TIMEOUT_MS: '1000',
  GRAPH_MAX_ATTEMPTS: '1',
};

export interface Instance extends IgdmProcess {
  name: string;
  /** Every output line (pino JSON at the level asked), kept when `keepLines`. */
  lines: string[];
}

export async function startInstance(
  stack: Stack,
  opts: { name: string; env?: Record<string, string>; port?: number; keepLines?: boolean },
): Promise<Instance> {
  const port = opts.port ?? (await freePort());
  const lines: string[] = [];
  let partial = '';
  const proc = await spawnIgdm(
    igdmEnv({
      databaseUrl: stack.dbUrl,
      databaseName: stack.dbName,
      port,
      graphUrl: stack.meta.graphUrl,
      apiUrl: stack.meta.apiUrl,
      extra: { INSTAGRAM_WWW_URL: stack.meta.wwwUrl, ...FAST_WORKER_ENV, ...opts.env },
    }),
    {
      entry: join(ROOT, 'test', 'reliability', 'support', 'igdm-instance.ts'),
      timeoutMs: 120_000,
      onOutput: opts.keepLines
        ? (chunk) => {
            const parts = (partial + chunk).split('\n');
            partial = parts.pop() ?? '';
            lines.push(...parts.filter(Boolean));
          }
        : undefined,
    },
  );
  return Object.assign(proc, { name: opts.name, lines });
}

export interface TrackedDelivery {
  n: number;
  body: string;
  mids: string[];
  statuses: (number | 'error')[];
  /** Duration of each attempt (ms). */
  ms: number[];
  acked: boolean;
  /** Which instance acknowledged it. */
  ackedBy?: string;
}

export interface LoadStats {
  deliveries: number;
  acked: number;
  neverAcked: number;
  attempts: number;
  fiveXx: number;
  networkErrors: number;
  otherStatus: number;
  retried: number;
  eventsAcked: number;
  /** Longest single attempt (a hung answer shows here). */
  slowestAttemptMs: number;
}

/**
 * Meta-like sender: each delivery is posted (same bytes, same signature) until one target
 * answers 200, with a delay between attempts, like Meta's retries (compressed in time).
 */
export class DeliveryDriver {
  readonly deliveries: TrackedDelivery[] = [];
  private readonly agent: http.Agent;
  private rr = 0;

  constructor(
    private readonly factory: DeliveryFactory,
    private readonly targets: () => { name: string; url: string }[],
    private readonly opts: {
      concurrency: number;
      retryDelayMs?: number;
      maxAttempts?: number;
      timeoutMs?: number;
      /** Prefix of the progress lines. */
      label?: string;
      /** New deliveries started per second at most (a steady stream, like Meta's). */
      ratePerS?: number;
    },
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  }

  static forStack(stack: Stack, eventsPerDelivery = 1): DeliveryFactory {
    return new DeliveryFactory(
      stack.accounts.map((a) => ({ igId: a.igId, customers: a.customers })),
      { eventsPerDelivery, duplicateRatio: 0, readRatio: 0 },
    );
  }

  /** Sends `count` new deliveries; resolves when each is acknowledged or out of attempts. */
  async send(count: number, onEach?: (d: TrackedDelivery) => void | Promise<void>): Promise<void> {
    const start = this.deliveries.length;
    for (let i = 0; i < count; i++) {
      const d = this.factory.next();
      this.deliveries.push({
        n: start + i,
        body: d.body,
        mids: d.mids,
        statuses: [],
        ms: [],
        acked: false,
      });
    }
    let next = start;
    const end = start + count;
    const progress = setInterval(() => {
      const st = this.stats();
      const recent: Record<string, number> = {};
      for (const d of this.deliveries.slice(start))
        for (const x of d.statuses.slice(-1)) recent[String(x)] = (recent[String(x)] ?? 0) + 1;
      log(
        `  ${this.opts.label ?? 'load'}: ${st.acked}/${st.deliveries} acknowledged, ${st.attempts} attempts, last answers ${JSON.stringify(recent)}`,
      );
    }, 5_000);
    const began = Date.now();
    const worker = async () => {
      while (next < end) {
        const i = next++;
        const d = this.deliveries[i];
        if (this.opts.ratePerS) {
          const due = began + ((i - start) * 1000) / this.opts.ratePerS;
          if (due > Date.now()) await sleep(due - Date.now());
        }
        await this.deliver(d);
        await onEach?.(d);
      }
    };
    try {
      await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
    } finally {
      clearInterval(progress);
    }
  }

  private async deliver(d: TrackedDelivery): Promise<void> {
    const max = this.opts.maxAttempts ?? 60;
    for (let attempt = 0; attempt < max; attempt++) {
      const targets = this.targets();
      if (targets.length === 0) {
        await sleep(this.opts.retryDelayMs ?? 500);
        continue;
      }
      const target = targets[this.rr++ % targets.length];
      const r = await postDelivery(target.url, d.body, this.agent, this.opts.timeoutMs ?? 20_000);
      d.statuses.push(r.status || 'error');
      d.ms.push(Math.round(r.ms));
      if (r.status === 200) {
        d.acked = true;
        d.ackedBy = target.name;
        return;
      }
      await sleep(this.opts.retryDelayMs ?? 500);
    }
  }

  stats(): LoadStats {
    const s: LoadStats = {
      deliveries: this.deliveries.length,
      acked: 0,
      neverAcked: 0,
      attempts: 0,
      fiveXx: 0,
      networkErrors: 0,
      otherStatus: 0,
      retried: 0,
      eventsAcked: 0,
      slowestAttemptMs: 0,
    };
    for (const d of this.deliveries) {
      s.attempts += d.statuses.length;
      if (d.acked) {
        s.acked++;
        s.eventsAcked += d.mids.length;
      } else s.neverAcked++;
      if (d.statuses.length > 1) s.retried++;
      s.slowestAttemptMs = Math.max(s.slowestAttemptMs, ...d.ms);
      for (const st of d.statuses) {
        if (st === 'error') s.networkErrors++;
        else if (st >= 500) s.fiveXx++;
        else if (st !== 200) s.otherStatus++;
      }
    }
    return s;
  }

  ackedMids(): string[] {
    return this.deliveries.filter((d) => d.acked).flatMap((d) => d.mids);
  }

  allMids(): string[] {
    return this.deliveries.flatMap((d) => d.mids);
  }

  close(): void {
    this.agent.destroy();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface StoredVerdict {
  eventsAcked: number;
  stored: number;
  lost: number;
  duplicates: number;
  /** Stored DMs of events that were never acknowledged (allowed: the ack was lost, e.g. a kill). */
  storedUnacked: number;
  ledgerWithoutDm: number;
}

/** Waits (polling) until every acknowledged event is stored, then counts once more. */
export async function verifyStored(
  db: Db,
  driver: DeliveryDriver,
  opts: { timeoutMs: number; label: string },
): Promise<StoredVerdict> {
  const acked = driver.ackedMids();
  const ackedSet = new Set(acked);
  const deadline = Date.now() + opts.timeoutMs;
  let lastLog = 0;
  for (;;) {
    const counts = await countByMid(db, acked);
    if (counts.size === acked.length || Date.now() > deadline) break;
    if (Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      log(
        `${opts.label}: waiting for acknowledged events to be stored: ${counts.size}/${acked.length}`,
      );
    }
    await sleep(250);
  }
  const all = driver.allMids();
  const counts = await countByMid(db, all);
  let stored = 0;
  let duplicates = 0;
  let storedUnacked = 0;
  for (const [mid, n] of counts) {
    if (ackedSet.has(mid)) stored++;
    else storedUnacked++;
    if (n > 1) duplicates += n - 1;
  }
  let ledgerWithoutDm = 0;
  for (let i = 0; i < acked.length; i += 500) {
    // The ledger is keyed per account (`<account>:<mid>`): the stored DMs name their account.
    const stored = await db
      .collection('instagram_dms')
      .find(
        { message_id: { $in: acked.slice(i, i + 500) } },
        { projection: { message_id: 1, platform_account_id: 1 } },
      )
      .toArray();
    const keys = [
      ...new Set(stored.map((d) => `${String(d.platform_account_id)}:${String(d.message_id)}`)),
    ];
    const entries = await db
      .collection('instagram_dm_ids')
      .find({ _id: { $in: keys as never[] } }, { projection: { dm_id: 1 } })
      .toArray();
    const withDm = new Set(entries.filter((e) => e.dm_id).map((e) => String(e._id).split(':')[1]));
    ledgerWithoutDm += acked.slice(i, i + 500).filter((mid) => !withDm.has(mid)).length;
  }
  return {
    eventsAcked: acked.length,
    stored,
    lost: acked.length - stored,
    duplicates,
    storedUnacked,
    ledgerWithoutDm,
  };
}

/** Deliveries by status: pending in webhook_pending (the worker's backlog), the rest in the history. */
export async function deliveryStatus(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {
    pending: await db.collection('webhook_pending').countDocuments({}),
  };
  for (const s of ['processed', 'failed', 'ignored'])
    out[s] = await db.collection('webhook_deliveries').countDocuments({ status: s });
  return out;
}
