import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import globalTeardown from '../../support/global-teardown';
import { checkHotPath, formatHotPathReport } from './hot-path-check';
import { checkRecording, formatReport, readRecording } from './index-check';

/**
 * `npm test`'s global teardown: the shared one (database), then the index check over every query
 * the e2e specs made. An unindexed query fails the run (jest exits non-zero).
 */
export default async function teardown(): Promise<void> {
  await globalTeardown();
  const file = process.env.IGDM_QUERY_LOG;
  if (!file) return;
  const lines = readRecording(file);
  if (process.env.IGDM_QUERY_LOG_OWNED === '1')
    rmSync(dirname(file), { recursive: true, force: true });
  if (lines.length === 0) return; // no e2e spec ran (unit specs only)
  const report = checkRecording(lines);
  process.stdout.write(`\n${formatReport(report)}\n`);
  const hotPath = checkHotPath(lines);
  process.stdout.write(`\n${formatHotPathReport(hotPath)}\n`);
  if (report.unindexed.length > 0)
    throw new Error(
      `index check: ${report.unindexed.length} query shape(s) of the app are not served by a declared index (see above)`,
    );
  if (hotPath.scans.length > 0)
    throw new Error(
      `hot-path check: ${hotPath.scans.length} query shape(s) on the hot path scan on the embedded database (see above)`,
    );
}
