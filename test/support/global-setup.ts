import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDatabase, EmbeddedDatabase } from '../../src/database/embedded-database';

declare global {
  var __IGDM_TEST_DB__: EmbeddedDatabase | undefined;
}

/**
 * Tests run against a real MongoDB-wire server: DATABASE_URL when set, else the same embedded
 * database the app uses, in a fresh temporary folder. Every test file gets its own database name.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.IGDM_TEST_DATABASE_URL = process.env.DATABASE_URL;
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'igdm-test-db-'));
  const database = await startEmbeddedDatabase({
    dataDir,
    log: (line) => process.stdout.write(`\n[test database] ${line}`),
  });
  globalThis.__IGDM_TEST_DB__ = database;
  process.env.IGDM_TEST_DATABASE_URL = database.uri;
  process.env.IGDM_TEST_DATABASE_KIND = database.kind;
}
