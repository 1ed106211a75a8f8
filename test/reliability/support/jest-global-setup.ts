import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import globalSetup from '../../support/global-setup';

/**
 * `npm test`'s global setup: the shared one (database), plus the query recorder's file for the
 * index check run by jest-global-teardown.ts. IGDM_QUERY_LOG set by the caller is kept.
 */
export default async function setup(): Promise<void> {
  await globalSetup();
  if (!process.env.IGDM_QUERY_LOG) {
    process.env.IGDM_QUERY_LOG = join(
      mkdtempSync(join(tmpdir(), 'igdm-queries-')),
      'queries.jsonl',
    );
    process.env.IGDM_QUERY_LOG_OWNED = '1';
  }
}
