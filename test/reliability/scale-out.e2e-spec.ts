/**
 * `npm run test:reliability`: two igdm instances (child processes) on one database, deliveries
 * spread across both, the token refresh job fired on both at the same moment, then one instance
 * killed (SIGKILL) mid-load. Every acknowledged event is stored exactly once, each token is
 * refreshed once, and no delivery is processed by two instances (the leases hold): only the
 * deliveries the killed instance had in hand may be finished by the survivor, after the kill.
 * The database: DATABASE_URL when set, else the suite's embedded one.
 */
import {
  DeliveryDriver,
  deliveryStatus,
  log,
  sleep,
  startInstance,
  startStack,
  verifyStored,
  type Instance,
  type Stack,
} from './support/harness';

const DAY = 24 * 3600_000;

interface Applied {
  instance: string;
  at: number;
}

/** `webhook event applied` debug lines (deliveryId, time) and lease warnings from pino JSON. */
function workerLines(inst: Instance) {
  const applied: { deliveryId: string; at: number }[] = [];
  let leaseLost = 0;
  for (const line of inst.lines) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: string; deliveryId?: string; time?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (entry.msg === 'webhook event applied' && entry.deliveryId)
      applied.push({ deliveryId: entry.deliveryId, at: entry.time ?? 0 });
    if (entry.msg?.includes('lease lost')) leaseLost++;
  }
  return { applied, leaseLost };
}

describe('Two instances on one database (reliability)', () => {
  let stack: Stack;
  const instances: Instance[] = [];

  afterAll(async () => {
    for (const i of instances) await i.stop().catch(() => undefined);
    await stack?.close();
  });

  it('should store every acknowledged event once, refresh each token once and never process a delivery twice, with one instance killed mid-load', async () => {
    const dbUrl = process.env.IGDM_TEST_DATABASE_URL!;
    // Tokens 30 days old, expiring in 5: due for the refresh job on both instances.
    const now = Date.now();
    stack = await startStack({
      dbUrl,
      accounts: 4,
      customersPerAccount: 10,
      graphLatencyMs: 50,
      business: { tokenCreatedAt: now - 30 * DAY, tokenExpiresAt: now + 5 * DAY },
      accountExtra: {
        token_refreshed_at: new Date(now - 30 * DAY),
        token_expires_at: new Date(now + 5 * DAY),
        updated_at: new Date(now - 30 * DAY),
      },
    });
    const env = { LOG_LEVEL: 'debug', TOKEN_REFRESH_ENABLED: 'false' };
    const [a, b] = await Promise.all([
      startInstance(stack, { name: 'A', env, keepLines: true }),
      startInstance(stack, { name: 'B', env, keepLines: true }),
    ]);
    instances.push(a, b);
    log(`scale-out: instances A (pid ${a.pid}) and B (pid ${b.pid}) on ${stack.dbName}`);
    const alive = new Set([a, b]);
    const driver = new DeliveryDriver(
      DeliveryDriver.forStack(stack, 2),
      () => [...alive].map((i) => ({ name: i.name, url: `${i.url}/webhook/instagram` })),
      { concurrency: 16, retryDelayMs: 300, ratePerS: 40, label: 'scale-out' },
    );

    // The hourly refresh job, fired on both instances at once while the load starts.
    const originalTokens = new Set(stack.accounts.map((x) => x.biz.accessToken));
    const refreshRuns = Promise.all(
      [a, b].map((i) =>
        fetch(`${i.url}/__reliability/refresh-tokens`, { method: 'POST' }).then(
          async (r) => `${r.status} ${await r.text()}`,
          (e: Error) => `error ${e.message}`,
        ),
      ),
    );

    const TOTAL = 600;
    let killedAt = 0;
    let ackedAtKill = 0;
    await driver.send(TOTAL, () => {
      if (killedAt || driver.stats().acked < 200) return;
      ackedAtKill = driver.stats().acked;
      alive.delete(b);
      b.child.kill('SIGKILL');
      killedAt = Date.now();
      log(`scale-out: B killed (SIGKILL) after ${ackedAtKill} acknowledged deliveries`);
    });
    const stats = driver.stats();
    const verdict = await verifyStored(stack.db, driver, {
      timeoutMs: 300_000,
      label: 'scale-out',
    });
    let status = await deliveryStatus(stack.db);
    const until = Date.now() + 60_000;
    while (status.pending > 0 && Date.now() < until) {
      await sleep(500);
      status = await deliveryStatus(stack.db);
    }

    // Token refresh: one refresh call per original token across both instances.
    const runs = await refreshRuns;
    const refreshCalls = stack.meta.requests({ endpoint: 'refresh' });
    const perToken = new Map<string, number>();
    for (const r of refreshCalls) {
      const q = r.query as Record<string, string | undefined>;
      const auth = String(r.headers.authorization ?? '').replace(/^Bearer /, '');
      const token = q.access_token ?? auth;
      perToken.set(token, (perToken.get(token) ?? 0) + 1);
    }
    const refreshedTwice = [...perToken.values()].filter((n) => n > 1).length;
    const stillOld = await stack.db.collection('accounts').countDocuments({
      user_id: stack.userId,
      token_refreshed_at: { $lt: new Date(now - DAY) },
    });

    // Deliveries applied by both instances: allowed only for what B had in hand when killed,
    // finished by A after the kill.
    const byDelivery = new Map<string, Applied[]>();
    for (const inst of [a, b])
      for (const x of workerLines(inst).applied) {
        const list = byDelivery.get(x.deliveryId) ?? [];
        list.push({ instance: inst.name, at: x.at });
        byDelivery.set(x.deliveryId, list);
      }
    let both = 0;
    let takenOverAfterKill = 0;
    const twice: string[] = [];
    for (const [id, list] of byDelivery) {
      const names = new Set(list.map((x) => x.instance));
      if (names.size < 2) continue;
      both++;
      const bLast = Math.max(...list.filter((x) => x.instance === 'B').map((x) => x.at));
      const aFirst = Math.min(...list.filter((x) => x.instance === 'A').map((x) => x.at));
      if (killedAt && bLast <= killedAt && aFirst >= killedAt) takenOverAfterKill++;
      else twice.push(id);
    }
    const attempts = await stack.db
      .collection('webhook_deliveries')
      .aggregate<{ _id: number; n: number }>([{ $group: { _id: '$attempts', n: { $sum: 1 } } }])
      .toArray();
    const leaseLost = workerLines(a).leaseLost + workerLines(b).leaseLost;
    const perInstance: Record<string, number> = {};
    for (const d of driver.deliveries)
      if (d.ackedBy) perInstance[d.ackedBy] = (perInstance[d.ackedBy] ?? 0) + 1;
    driver.close();

    log(
      `scale-out: ${stats.deliveries} deliveries (2 events each) acknowledged ${JSON.stringify(perInstance)}, ` +
        `${stats.acked} in all (${ackedAtKill} before B was killed), network errors ${stats.networkErrors}, ` +
        `retried ${stats.retried}; events acknowledged ${verdict.eventsAcked}, stored ${verdict.stored}, ` +
        `lost ${verdict.lost}, duplicates ${verdict.duplicates}; deliveries ${JSON.stringify(status)}, ` +
        `attempts histogram ${JSON.stringify(Object.fromEntries(attempts.map((x) => [x._id, x.n])))}; ` +
        `applied by both instances ${both} (taken over after the kill ${takenOverAfterKill}, processed twice ` +
        `${twice.length}), lease-lost warnings ${leaseLost}; token refresh runs A ${runs[0]} B ${runs[1]}, refresh calls ${refreshCalls.length} for ${originalTokens.size} due tokens ` +
        `(${refreshedTwice} refreshed twice), accounts still unrefreshed ${stillOld}`,
    );
    expect(killedAt).toBeGreaterThan(0);
    expect(perInstance.A).toBeGreaterThan(0);
    expect(perInstance.B).toBeGreaterThan(0);
    expect(stats.acked).toBe(TOTAL);
    expect(verdict.lost).toBe(0);
    expect(verdict.duplicates).toBe(0);
    expect(verdict.ledgerWithoutDm).toBe(0);
    expect(status.pending).toBe(0);
    expect(byDelivery.size).toBeGreaterThan(0); // the worker's debug line was seen
    expect(twice).toEqual([]);
    expect(runs.every((r) => r.startsWith('200 {'))).toBe(true);
    expect(refreshCalls.length).toBe(originalTokens.size);
    expect(refreshedTwice).toBe(0);
    expect(stillOld).toBe(0);
  }, 900_000);
});
