/**
 * The index check: every query shape the app made during the e2e suite (recorded by
 * query-recorder.ts) must be served by an index its model declares (equality, sort, range;
 * `_id` always counts). Queries written by the tests themselves are listed, not judged.
 * An allow-list names the few app queries that may scan, each with its reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { RecordedLine, RecordedQuery } from './query-recorder';
import { indexName, judge, shapeKey, type IndexKeys, type QueryShape } from './query-shape';

export interface AllowEntry {
  /** Matches `shapeKey(shape)` (collection|op|fields|or|sort) by prefix or RegExp. */
  match: RegExp;
  reason: string;
}

/**
 * Documented exceptions only. Every entry says why a scan is acceptable (or who owns the fix).
 * Keep this short: a new route's query belongs in a schema index, not here.
 */
export const ALLOWED_SCANS: AllowEntry[] = [
  // { match: /^collection\|find\|field:eq\|\|$/, reason: 'why this scan is fine, or who owns the fix' },
  {
    match: /^instagram_dms\|find\|customer_id:residual\|\|$/,
    reason:
      'LegacyCustomerIdService: a start-up migration that scans once per database (igdm_migrations marker) for DMs the Python service wrote without customer_id',
  },
  {
    match: /^instagram_dm_ids\|find\|\|\|$/,
    reason:
      'LegacyLedgerService: a start-up migration that reads the ledger once per database (igdm_migrations marker) to move keys written before they were per account',
  },
  {
    match: /^accounts\|find\|access_token:range\|\|$/,
    reason:
      'TokenBindingMigration: a start-up migration that reads every account once per database (igdm_migrations marker) to bind tokens stored before v2 to their account',
  },
];

export interface CheckReport {
  judged: number;
  served: { key: string; origin: string[]; index: string }[];
  unindexed: { key: string; origin: string[]; why: string }[];
  allowed: { key: string; origin: string[]; reason: string }[];
  testOnly: number;
  collections: Record<string, string[]>;
}

export function readRecording(file: string): RecordedLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RecordedLine);
}

export function checkRecording(lines: RecordedLine[], allow = ALLOWED_SCANS): CheckReport {
  const indexes = new Map<string, Map<string, IndexKeys>>();
  for (const l of lines) {
    if (l.type !== 'indexes') continue;
    const map = indexes.get(l.collection) ?? new Map<string, IndexKeys>();
    for (const ix of l.indexes) map.set(indexName(ix), ix);
    indexes.set(l.collection, map);
  }
  const byKey = new Map<string, { shape: QueryShape; origins: Set<string>; app: boolean }>();
  let testOnly = 0;
  for (const l of lines) {
    if (l.type !== 'query') continue;
    const q: RecordedQuery = l;
    const app = !q.origin.startsWith('test/') && !q.origin.startsWith('scripts/');
    const key = shapeKey(q.shape);
    const entry = byKey.get(key) ?? { shape: q.shape, origins: new Set<string>(), app: false };
    entry.origins.add(q.origin);
    entry.app ||= app;
    byKey.set(key, entry);
  }
  const report: CheckReport = {
    judged: 0,
    served: [],
    unindexed: [],
    allowed: [],
    testOnly: 0,
    collections: Object.fromEntries([...indexes].map(([c, m]) => [c, [...m.keys()]])),
  };
  for (const [key, { shape, origins, app }] of byKey) {
    if (!app) {
      testOnly++;
      continue;
    }
    report.judged++;
    const origin = [...origins].filter((o) => !o.startsWith('test/')).sort();
    const declared = indexes.get(shape.collection);
    const verdict = judge(shape, declared ? [...declared.values()] : []);
    if (verdict.served) {
      report.served.push({ key, origin, index: verdict.index! });
      continue;
    }
    const allowed = allow.find((a) => a.match.test(key));
    if (allowed) report.allowed.push({ key, origin, reason: allowed.reason });
    else
      report.unindexed.push({
        key,
        origin,
        why: declared ? verdict.why! : `no model declares indexes for ${shape.collection}`,
      });
  }
  report.testOnly = testOnly;
  return report;
}

export function formatReport(r: CheckReport): string {
  const lines = [
    `[index-check] ${r.judged} distinct app query shapes judged: ${r.served.length} served by a declared index, ` +
      `${r.allowed.length} allow-listed, ${r.unindexed.length} UNINDEXED (${r.testOnly} shapes from test code not judged)`,
  ];
  for (const u of r.unindexed)
    lines.push(`  UNINDEXED ${u.key}\n    ${u.why}\n    from ${u.origin.join(', ')}`);
  for (const a of r.allowed) lines.push(`  allowed   ${a.key}: ${a.reason}`);
  return lines.join('\n');
}
