/**
 * Quick webhook ingest figures (not CI): acknowledged deliveries/s and ack latency at 50
 * concurrent signed deliveries, and time from ack to stored DM, on the embedded database
 * (or DATABASE_URL). Run: npx ts-node --transpile-only bench/ingest-quick.ts
 */
import 'reflect-metadata';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startEmbeddedDatabase } from '../src/database/embedded-database';
import { givenAccount } from '../test/support/factories';
import { createTestApp, newUserId, TEST_APP_SECRET } from '../test/support/e2e';

const TOTAL = Number(process.env.BENCH_TOTAL ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  let stopDb: (() => Promise<void>) | undefined;
  if (!process.env.DATABASE_URL) {
    const db = await startEmbeddedDatabase({
      dataDir: mkdtempSync(join(tmpdir(), 'igdm-bench-')),
      log: () => undefined,
    });
    process.env.IGDM_TEST_DATABASE_URL = db.uri;
    stopDb = () => db.stop();
  } else process.env.IGDM_TEST_DATABASE_URL = process.env.DATABASE_URL;

  const app = await createTestApp({ INSTAGRAM_GRAPH_URL: 'http://127.0.0.1:9' });
  await app.app.listen(0, '127.0.0.1');
  const { port } = app.app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/webhook/instagram`;
  const igId = `1784${Date.now()}`;
  const { accountId } = await givenAccount(app, {
    userId: newUserId(),
    igId,
    accessToken: 'bench-token',
  });

  const mids: string[] = [];
  const ackAt = new Map<string, number>();
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = Date.now();
  async function worker(): Promise<void> {
    while (next < TOTAL) {
      const i = next++;
      const mid = `bench_${i}_${randomBytes(6).toString('hex')}`;
      const body = JSON.stringify({
        object: 'instagram',
        entry: [
          {
            time: Date.now(),
            id: igId,
            messaging: [
              {
                sender: { id: `cust${i % 200}` },
                recipient: { id: igId },
                timestamp: Date.now(),
                message: { mid, text: `hello ${i}` },
              },
            ],
          },
        ],
      });
      const sig = `sha256=${createHmac('sha256', TEST_APP_SECRET).update(body).digest('hex')}`;
      const t0 = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig },
        body,
      });
      await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== 200) failures += 1;
      else {
        mids.push(mid);
        ackAt.set(mid, Date.now());
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  const ackSeconds = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);

  // Ack → stored: sample 200 mids, poll their ledger entries by _id.
  const dms = app.connection.db!.collection('instagram_dm_ids');
  const sample =
    process.env.WEBHOOK_WORKER_ENABLED === 'false'
      ? []
      : mids.filter((_, i) => i % Math.max(1, Math.floor(mids.length / 200)) === 0);
  const storedAt = new Map<string, number>();
  const deadline = Date.now() + 300_000;
  while (storedAt.size < sample.length && Date.now() < deadline) {
    const found = await dms
      .find(
        {
          _id: {
            $in: sample.filter((m) => !storedAt.has(m)).map((m) => `${accountId}:${m}`) as never[],
          },
          dm_id: { $exists: true },
        },
        { projection: { _id: 1 } },
      )
      .toArray();
    for (const f of found) storedAt.set(String(f._id).slice(accountId.length + 1), Date.now());
    await new Promise((r) => setTimeout(r, 20));
  }
  const lags = sample
    .filter((m) => storedAt.has(m))
    .map((m) => storedAt.get(m)! - ackAt.get(m)!)
    .sort((a, b) => a - b);
  const drainSeconds = (Date.now() - started) / 1000;

  console.log(
    JSON.stringify(
      {
        deliveries: TOTAL,
        concurrency: CONCURRENCY,
        failures,
        acked_per_s: Math.round(mids.length / ackSeconds),
        ack_ms: {
          p50: +pct(latencies, 50).toFixed(1),
          p99: +pct(latencies, 99).toFixed(1),
          max: +latencies[latencies.length - 1].toFixed(1),
        },
        ack_to_stored_ms: lags.length
          ? {
              p50: pct(lags, 50),
              p99: pct(lags, 99),
              max: lags[lags.length - 1],
              sampled: lags.length,
            }
          : null,
        all_processed_after_s: +drainSeconds.toFixed(1),
      },
      null,
      2,
    ),
  );
  await app.close();
  await stopDb?.();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
