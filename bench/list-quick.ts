/**
 * Quick dashboard-list figures (not CI): latency of GET /instagram-dms/list (first page, a deep
 * keyset page, a deep skip page, one conversation) and GET /instagram-dms/conversations with
 * BENCH_DMS (default 10 000) stored DMs of one account, on the embedded database (or DATABASE_URL).
 * Run: npx ts-node --transpile-only bench/list-quick.ts
 */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Types } from 'mongoose';
import { startEmbeddedDatabase } from '../src/database/embedded-database';
import { givenAccount } from '../test/support/factories';
import { createTestApp, newUserId } from '../test/support/e2e';

const TOTAL = Number(process.env.BENCH_DMS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const CUSTOMERS = 200;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  let stopDb: (() => Promise<void>) | undefined;
  const database = process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded';
  if (!process.env.DATABASE_URL) {
    const db = await startEmbeddedDatabase({
      dataDir: mkdtempSync(join(tmpdir(), 'igdm-bench-')),
      log: () => undefined,
    });
    process.env.IGDM_TEST_DATABASE_URL = db.uri;
    stopDb = () => db.stop();
  } else process.env.IGDM_TEST_DATABASE_URL = process.env.DATABASE_URL;

  const app = await createTestApp({ INSTAGRAM_GRAPH_URL: 'http://127.0.0.1:9' });
  const userId = newUserId();
  const { accountId } = await givenAccount(app, {
    userId,
    igId: `1784${Date.now()}`,
    accessToken: 'bench-token',
  });
  // A second tenant's DMs in the same collection, so scoping has something to skip.
  const other = await givenAccount(app, {
    userId: newUserId(),
    igId: `1785${Date.now()}`,
    accessToken: 'bench-token',
  });

  const db = app.connection.db!;
  const t0 = Date.now() - TOTAL * 1000;
  const docs = (account: string, n: number) =>
    Array.from({ length: n }, (_, i) => {
      const customer = `cust${i % CUSTOMERS}`;
      const inbound = i % 3 !== 0;
      const at = new Date(t0 + i * 1000);
      return {
        _id: new Types.ObjectId(),
        platform_account_id: account,
        user_id: null,
        sender_id: inbound ? customer : 'biz',
        recipient_id: inbound ? 'biz' : customer,
        customer_id: customer,
        message_id: `mid.bench.${account}.${i}`,
        text: `message ${i}`,
        timestamp: at.getTime(),
        is_echo: false,
        direction: inbound ? 'inbound' : 'outbound',
        read: i % 5 === 0,
        manual_dm: false,
        is_deleted: i % 50 === 0,
        message_type: 'text',
        created_at: at,
        updated_at: at,
      };
    });
  const insertStart = Date.now();
  for (const [account, n] of [
    [accountId, TOTAL],
    [other.accountId, Math.floor(TOTAL / 5)],
  ] as const) {
    const all = docs(account, n);
    for (let i = 0; i < all.length; i += 1000)
      await db.collection('instagram_dms').insertMany(all.slice(i, i + 1000));
  }
  for (let c = 0; c < CUSTOMERS; c += 1) {
    const at = new Date(t0 + c * 1000);
    await db.collection('instagram_conversations').insertOne({
      _id: `${accountId}:cust${c}` as never,
      user_id: userId,
      platform_account_id: accountId,
      customer_id: `cust${c}`,
      unread_count: c % 4,
      last_message_at: at,
      last_inbound_at: at,
      created_at: at,
      updated_at: at,
    });
  }
  const insertS = (Date.now() - insertStart) / 1000;

  const auth = app.bearer(userId);
  const time = async (path: string) => {
    const samples: number[] = [];
    let body: { next_cursor?: string | null; total?: number; data?: unknown[] } = {};
    for (let i = 0; i < RUNS; i += 1) {
      const s = performance.now();
      const res = await app.http().get(path).set(auth);
      samples.push(performance.now() - s);
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
      body = res.body as typeof body;
    }
    samples.sort((a, b) => a - b);
    return {
      p50: +pct(samples, 50).toFixed(1),
      p95: +pct(samples, 95).toFixed(1),
      total: body.total,
      returned: body.data?.length,
      body,
    };
  };

  // A cursor about 100 pages deep (keyset) versus the same depth with skip.
  let cursor: string | null | undefined;
  {
    let path = '/instagram-dms/list?limit=50';
    for (let page = 0; page < 100; page += 1) {
      const res = await app.http().get(path).set(auth);
      cursor = (res.body as { next_cursor: string | null }).next_cursor;
      if (!cursor) break;
      path = `/instagram-dms/list?limit=50&cursor=${encodeURIComponent(cursor)}`;
    }
  }
  const results: Record<string, unknown> = {};
  const routes: [string, string][] = [
    ['list first page (all accounts)', '/instagram-dms/list'],
    ['list first page (one account)', `/instagram-dms/list?platform_account_id=${accountId}`],
    [
      'list keyset page ~100 deep',
      `/instagram-dms/list?limit=50&cursor=${encodeURIComponent(cursor ?? '')}`,
    ],
    ['list skip=4950', '/instagram-dms/list?limit=50&skip=4950'],
    ['list one conversation', `/instagram-dms/list?customer_id=cust7`],
    ['list unread inbound', '/instagram-dms/list?direction=inbound&read=false'],
    ['conversations first page', '/instagram-dms/conversations'],
  ];
  for (const [name, path] of routes) {
    const { body: _body, ...r } = await time(path);
    results[name] = r;
  }
  console.log(
    JSON.stringify(
      {
        dms: TOTAL,
        other_tenant_dms: Math.floor(TOTAL / 5),
        runs: RUNS,
        insert_s: insertS,
        database,
        results,
      },
      null,
      2,
    ),
  );

  await app.close();
  await stopDb?.();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
