/**
 * The hot-path check: the queries made for every delivery and every message (acknowledging,
 * processing, storing, announcing) must be answered without a scan on the embedded database.
 * FerretDB v1 serves only `{ _id: <value> }` from an index, so each such query must be exactly
 * that, or be listed below as batched or bounded, with why it costs what it costs.
 * Shapes come from the same recording as the index check (query-recorder.ts).
 */
import type { RecordedLine } from './query-recorder';
import { shapeKey } from './query-shape';

/**
 * Code that runs for every delivery or message. (The acknowledgement's one write is an insert,
 * which has no filter; the rest of webhook.service.ts serves the diagnostics routes.)
 */
export const HOT_PATH_ORIGINS: RegExp[] = [
  /^src\/webhook\/delivery-processor\.ts:/,
  /^src\/webhook\/delivery-worker\.service\.ts:/,
  /^src\/dms\/ingest\//,
  /^src\/dms\/conversations\.service\.ts:/,
  /^src\/dms\/dm-write-lock\.ts:/,
  /^src\/dms\/dms-stream\.service\.ts:/,
];

export interface HotPathAllowance {
  /** Matches `shapeKey(shape)` (collection|op|fields|or|sort). */
  match: RegExp;
  reason: string;
}

const BACKLOG_ONLY = 'webhook_pending holds only the backlog, never the history';

export const HOT_PATH_ALLOWED: HotPathAllowance[] = [
  // Batched or bounded by the backlog.
  {
    match: /^webhook_pending\|deleteMany\|_id:eq\|\|$/,
    reason: `one per batch: its finished deliveries leave the queue in one delete (${BACKLOG_ONLY})`,
  },
  {
    match: /^webhook_pending\|find\|lease_until:range\|\|$/,
    reason: `the periodic sweep for leases that passed (${BACKLOG_ONLY})`,
  },
  {
    match: /^webhook_pending\|findOneAndUpdate\|_id:eq,lease_until:range\|\|$/,
    reason: `a lease on a delivery this instance did not acknowledge (a retry, a replay, a dead instance's); acknowledged ones are handed over in memory (${BACKLOG_ONLY})`,
  },
  // Not per message: start-up, account events, retention.
  {
    match: /^webhook_deliveries\|find\|status:eq\|\|$/,
    reason:
      'start-up, once: deliveries an older igdm left pending in the history move to the queue',
  },
  {
    match: /^webhook_deliveries\|(find\|unroutable_ids:eq|deleteMany\|_id:eq)\|\|$/,
    reason:
      'account connected: the deliveries that named it while it was unknown move back to the queue (also the start-up move above)',
  },
  {
    match: /^webhook_deliveries\|deleteMany\|processed_at:range,status:eq\|\|$/,
    reason: 'retention purge, hourly',
  },
  {
    match: /^instagram_conversations\|find\|profile_pending:eq,profile_retry_at:range\|\|$/,
    reason: 'start-up, once: profiles a stopped process left due (then scheduled in memory)',
  },
  {
    match:
      /^instagram_conversations\|(find|updateMany)\|platform_account_id:eq,profile_pending:eq,profile_retry_at:eq\|\|$/,
    reason: 'account repaired (reconnected, turned on): its parked profiles are read again',
  },
  {
    match: /^instagram_conversations\|deleteMany\|platform_account_id:eq\|\|$/,
    reason: 'purge of a deleted account',
  },
  // Per message, but rare, and exact where a counter could drift.
  {
    match: /^instagram_dms\|findOne\|message_id:eq,platform_account_id:eq\|\|_id:1$/,
    reason:
      'only while the start-up ledger backfill of a database the Python service wrote is running (LegacyLedgerService.mayHaveUnledgeredDms); the ledger alone answers after it',
  },
  {
    match:
      /^instagram_dms\|countDocuments\|customer_id:eq,direction:eq,is_deleted:residual,is_unsent:residual,platform_account_id:eq,read:eq\|\|$/,
    reason:
      'an unsend of a message still unread, or a dashboard read/delete: the thread recounts its unread DMs (rare; a decrement could count twice)',
  },
  {
    match:
      /^instagram_dms\|find\|customer_id:eq,direction:eq,platform_account_id:eq,seen:residual\|\|$/,
    reason:
      'a read receipt on a thread not tracked yet (stored before tracking, or past MAX_UNSEEN): read once, then tracked by id',
  },
  // Per stream, not per message.
  {
    match:
      /^instagram_(dms|conversations)\|(find|countDocuments)\|platform_account_id:eq,updated_at:range\|/,
    reason:
      'a stream resuming from its Last-Event-ID, or the multi-instance poll (DMS_STREAM_POLL_MS)',
  },
];

export interface HotPathReport {
  judged: number;
  idOnly: number;
  allowed: { key: string; origin: string[]; reason: string }[];
  scans: { key: string; origin: string[] }[];
}

export function checkHotPath(lines: RecordedLine[], allow = HOT_PATH_ALLOWED): HotPathReport {
  const byKey = new Map<string, { origins: Set<string>; idOnly: boolean }>();
  for (const l of lines) {
    if (l.type !== 'query' || !HOT_PATH_ORIGINS.some((o) => o.test(l.origin))) continue;
    const key = shapeKey(l.shape) + (l.shape.idLookup ? ' (by _id)' : '');
    const entry = byKey.get(key) ?? { origins: new Set<string>(), idOnly: !!l.shape.idLookup };
    entry.origins.add(l.origin);
    byKey.set(key, entry);
  }
  const report: HotPathReport = { judged: byKey.size, idOnly: 0, allowed: [], scans: [] };
  for (const [key, { origins, idOnly }] of byKey) {
    const origin = [...origins].sort();
    if (idOnly) {
      report.idOnly++;
      continue;
    }
    const allowed = allow.find((a) => a.match.test(key));
    if (allowed) report.allowed.push({ key, origin, reason: allowed.reason });
    else report.scans.push({ key, origin });
  }
  return report;
}

export function formatHotPathReport(r: HotPathReport): string {
  const lines = [
    `[hot-path] ${r.judged} query shapes on the hot path: ${r.idOnly} by _id alone, ` +
      `${r.allowed.length} batched or bounded (listed), ${r.scans.length} SCAN`,
  ];
  for (const s of r.scans) lines.push(`  SCAN      ${s.key}\n    from ${s.origin.join(', ')}`);
  for (const a of r.allowed) lines.push(`  allowed   ${a.key}: ${a.reason}`);
  return lines.join('\n');
}
