/**
 * The database watchdog against a wedged driver. igdm runs on its own FerretDB, whatever
 * DATABASE_URL says: the test stops and restarts that database.
 *
 * The wedge is injected: the bundled MongoDB driver (6.20) loses its server monitor when a
 * heartbeat is written to a socket that is already destroyed (the write waits for a `drain` that
 * never comes). That race cannot be forced on demand, so the test puts the monitor in the state it
 * leaves: it never checks the server again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, ConnectionStates } from 'mongoose';
import { FerretDbProcess, until } from '../../bench/lib';
import {
  DatabaseWatchdog,
  WatchdogVerdict,
  WEDGED_AFTER_MS,
} from '../../src/database/database-watchdog.service';
import { createTestApp, newUserId, TestApp } from '../support/e2e';

interface WedgeableMonitor {
  monitorId?: { stop(): void };
  reset(): void;
  requestCheck(): void;
}

/** Every server monitor of the connection stops checking, for good. */
function wedgeMonitors(connection: Connection): number {
  const topology = (
    connection.getClient() as unknown as {
      topology?: { s: { servers: Map<string, { monitor?: WedgeableMonitor }> } };
    }
  ).topology;
  let wedged = 0;
  for (const server of topology?.s.servers.values() ?? []) {
    const monitor = server.monitor;
    if (!monitor) continue;
    monitor.monitorId?.stop();
    monitor.reset = () => undefined;
    monitor.requestCheck = () => undefined;
    wedged += 1;
  }
  return wedged;
}

describe('Database watchdog', () => {
  let ferret: FerretDbProcess;
  let dataDir: string;
  let t: TestApp;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'igdm-watchdog-'));
    ferret = await FerretDbProcess.start(dataDir);
    t = await createTestApp({ DATABASE_URL: ferret.uri });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await ferret?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A look now; the app's own timer may be mid-look, then this waits for it. */
  async function look(watchdog: DatabaseWatchdog): Promise<WatchdogVerdict> {
    return until(
      async () => {
        const verdict = await watchdog.check();
        return verdict === 'busy' ? null : verdict;
      },
      10_000,
      'a watchdog look',
    );
  }

  it('should reopen the connection when the database answers again and the driver never reconnects', async () => {
    const watchdog = t.app.get(DatabaseWatchdog);
    const settings = () => t.http().get('/user-settings').set(t.bearer(newUserId()));
    expect(await look(watchdog)).toBe('connected');
    await settings().expect(200);

    await ferret.stop();
    // A request makes the driver notice; /health says down meanwhile.
    await until(
      async () =>
        (await t.http().get('/health')).status === 503 &&
        t.connection.readyState !== ConnectionStates.connected,
      30_000,
      'the driver to see the database gone',
      200,
    );
    expect(await look(watchdog)).toBe('database-down');
    expect(wedgeMonitors(t.connection)).toBeGreaterThan(0);
    await ferret.resume();

    // The wedge holds: the database answers a new client, igdm's connection does not.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      await t.http().get('/health').expect(503);
    }
    const wedgedAt = Date.now();
    expect(await look(watchdog)).toBe('waiting');
    const down = await settings().expect(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.body.error.code).toBe('DATABASE_UNAVAILABLE');

    // The app's own timer: a look every 5 s, a reopen once the wedge has lasted 20 s.
    await until(
      async () => (await t.http().get('/health')).status === 200,
      WEDGED_AFTER_MS + 20_000,
      'the watchdog to reopen the connection',
      500,
    );
    expect(Date.now() - wedgedAt).toBeGreaterThanOrEqual(WEDGED_AFTER_MS - 5_000);
    const health = await t.http().get('/health').expect(200);
    expect(health.body).toMatchObject({ status: 'healthy', database: 'up' });
    await settings().expect(200);
    expect(await look(watchdog)).toBe('connected');
  }, 120_000);
});
