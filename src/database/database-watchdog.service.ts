import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectConnection } from '@nestjs/mongoose';
import { Connection, ConnectionStates, mongo } from 'mongoose';
import { CONNECT_OPTIONS, DatabaseTarget } from './database-target';

const CHECK_EVERY_MS = 5_000;
/**
 * Twice the driver's heartbeat (10 s): a driver that is merely slow to notice the server is back
 * has done so by then.
 */
export const WEDGED_AFTER_MS = 20_000;
const PROBE_TIMEOUT_MS = 2_000;

/** What one look found. */
export type WatchdogVerdict = 'connected' | 'database-down' | 'waiting' | 'reopened' | 'busy';

/**
 * Reopens the connection when the driver has given up on a database that answers. The MongoDB
 * driver bundled with mongoose (6.20) can lose its server monitor when the database goes away: a
 * heartbeat written to a socket that is already destroyed never settles, so the monitor never
 * checks again and every operation fails server selection, long after the database is back (seen
 * after a database restart under load). Nothing inside the driver recovers from that; a new
 * client does.
 */
@Injectable()
export class DatabaseWatchdog implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private timer?: NodeJS.Timeout;
  private looking?: Promise<WatchdogVerdict>;
  /** Since when the database has answered a new client while ours stayed disconnected. */
  private wedgedSince?: number;
  private stopped = false;

  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly target: DatabaseTarget,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.looking;
  }

  /** One look, at most one at a time; `now` is a parameter so a test need not wait 20 s. */
  check(now = Date.now()): Promise<WatchdogVerdict> {
    if (this.looking) return Promise.resolve('busy');
    this.looking = this.look(now).finally(() => (this.looking = undefined));
    return this.looking;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.check()
        .catch((error: unknown) => this.logger.error({ err: error }, 'database watchdog failed'))
        .finally(() => this.schedule());
    }, CHECK_EVERY_MS);
    this.timer.unref();
  }

  private async look(now: number): Promise<WatchdogVerdict> {
    if (this.connection.readyState === ConnectionStates.connected) {
      this.wedgedSince = undefined;
      return 'connected';
    }
    if (!(await this.answersNewClient())) {
      // The database itself is away: reconnecting is the driver's job, and it does it.
      this.wedgedSince = undefined;
      return 'database-down';
    }
    this.wedgedSince ??= now;
    const wedgedForMs = now - this.wedgedSince;
    if (wedgedForMs < WEDGED_AFTER_MS || this.stopped) return 'waiting';
    this.logger.warn(
      { dbName: this.target.dbName, wedgedForMs },
      'the database answers but the driver has not reconnected: reopening the connection',
    );
    // Not forced: mongoose refuses every later operation on a connection that was force-closed,
    // reopened or not. The old client's pool is torn down either way.
    await this.connection.close();
    await this.connection.openUri(this.target.uri, {
      dbName: this.target.dbName,
      ...CONNECT_OPTIONS,
    });
    this.wedgedSince = undefined;
    this.logger.log({ dbName: this.target.dbName }, 'database connection reopened');
    return 'reopened';
  }

  private async answersNewClient(): Promise<boolean> {
    const client = new mongo.MongoClient(this.target.uri, {
      serverSelectionTimeoutMS: PROBE_TIMEOUT_MS,
      connectTimeoutMS: PROBE_TIMEOUT_MS,
      socketTimeoutMS: PROBE_TIMEOUT_MS,
    });
    try {
      await client.connect();
      await client.db(this.target.dbName).command({ ping: 1 });
      return true;
    } catch {
      return false;
    } finally {
      await client.close(true).catch(() => undefined);
    }
  }
}
