import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { resolve } from 'node:path';
import { EmbeddedDatabase, startEmbeddedDatabase } from './embedded-database';

/** Owns the embedded database's lifetime when the app runs without DATABASE_URL. */
@Injectable()
export class EmbeddedDatabaseService implements OnApplicationShutdown {
  private database?: EmbeddedDatabase;
  private closeConnections: Array<() => Promise<void>> = [];

  private readonly logger = new Logger('Database');

  async start(dataDir: string): Promise<string> {
    this.database ??= await startEmbeddedDatabase({
      dataDir: resolve(dataDir),
      // Straight to stdout: Nest's logs are buffered until the app is up, and a first start
      // (a FerretDB build) must show its progress while it happens, not a minute later.
      log: (line) => process.stdout.write(`igdm: ${line}\n`),
    });
    return this.database.uri;
  }

  /** The mongoose connection registers here so it closes before its server stops. */
  onStop(close: () => Promise<void>): void {
    this.closeConnections.push(close);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.database) return;
    await Promise.allSettled(this.closeConnections.map((close) => close()));
    await this.database.stop();
    this.logger.log('embedded database stopped');
    this.database = undefined;
  }
}
