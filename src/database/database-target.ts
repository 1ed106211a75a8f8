import type { ConnectOptions } from 'mongoose';

/** The options of igdm's one mongoose connection, for the first open and any reopen. */
export const CONNECT_OPTIONS: ConnectOptions = {
  // Fail fast instead of queueing writes for 30 s: an unacknowledged webhook is retried by Meta,
  // a hung one is not.
  serverSelectionTimeoutMS: 5_000,
  bufferCommands: false,
  autoIndex: true,
};

/**
 * Where the database is: DATABASE_URL, or the embedded server started for this process. Resolved
 * once; the connection and the watchdog that may reopen it both read it.
 */
export class DatabaseTarget {
  constructor(
    readonly uri: string,
    readonly dbName: string,
  ) {}
}
