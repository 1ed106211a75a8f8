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
/** Closing a wedged client or opening a new one must not hold the watchdog (or shutdown) forever. */
const REOPEN_STEP_TIMEOUT_MS = 15_000;

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
  /** A reopen that failed left no client that reconnects by itself: retry as soon as possible. */
  private reopenFailed = false;
  private stopped = false;

  constructor(
    @InjectConnection() private readonly connection: Connection,
    private readonly target: DatabaseTarget,
  ) {}

  onApplicationBootstrap(): void {
    // A driver that reconnects between two looks is not wedged, however it looks at the next.
    const recovered = () => (this.wedgedSince = undefined);
    this.connection.on('connected', recovered);
    this.connection.on('reconnected', recovered);
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.looking;
  }

  /** One look, at most one at a time (the timer's, or a caller's). */
  check(): Promise<WatchdogVerdict> {
    if (this.looking) return Promise.resolve('busy');
    this.looking = this.look(Date.now()).finally(() => (this.looking = undefined));
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
    if ((wedgedForMs < WEDGED_AFTER_MS && !this.reopenFailed) || this.stopped) return 'waiting';
    this.logger.warn(
      { dbName: this.target.dbName, wedgedForMs, retry: this.reopenFailed },
      'the database answers but the driver has not reconnected: reopening the connection',
    );
    try {
      // Not forced: mongoose refuses every later operation on a connection that was
      // force-closed, reopened or not. The old client's pool is torn down either way.
      await within(REOPEN_STEP_TIMEOUT_MS, this.connection.close());
      await within(
        REOPEN_STEP_TIMEOUT_MS,
        this.connection.openUri(this.target.uri, {
          dbName: this.target.dbName,
          ...CONNECT_OPTIONS,
        }),
      );
    } catch (error) {
      this.reopenFailed = true;
      throw error;
    }
    this.reopenFailed = false;
    this.wedgedSince = undefined;
    this.logger.log({ dbName: this.target.dbName }, 'database connection reopened');
    return 'reopened';
  }

  private async answersNewClient(): Promise<boolean> {
    const client = new mongo.MongoClient(this.target.uri, {
      serverSelectionTimeoutMS: PROBE_TIMEOUT_MS,
      connectTimeoutMS: PROBE_TIMEOUT_MS,
      socketTimeoutMS: PROBE_TIMEOUT_MS,
      // What mongoose's connection needs; a secondary answering is no sign it could reconnect.
      readPreference: 'primary',
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

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
