import type { ConfigService } from '@nestjs/config';

/** Timings of the delivery pipeline; the defaults are production values, tests shorten them. */
export interface WebhookTuning {
  /** How long acknowledgements wait to share one insertMany. */
  groupCommitWindowMs: number;
  /** Largest group commit. */
  groupCommitMax: number;
  /** Deliveries processed at once by one instance. */
  workerConcurrency: number;
  leaseMs: number;
  maxAttempts: number;
  /** First retry delay of a failed delivery (doubles per attempt). */
  retryBaseMs: number;
  sweepIntervalMs: number;
  purgeIntervalMs: number;
  retentionMs: number;
  /** Enrichment (profiles) retry base delay. */
  enrichRetryMs: number;
  /** false: deliveries are acknowledged but not processed by this instance (ops, tests). */
  workerEnabled: boolean;
}

function num(config: ConfigService, key: string, fallback: number): number {
  const raw = config.get<string | number | undefined>(key);
  const n = typeof raw === 'number' ? raw : raw !== undefined && raw !== '' ? Number(raw) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Read from optional WEBHOOK_* variables (not part of the reference's environment). */
export function webhookTuning(config: ConfigService): WebhookTuning {
  return {
    groupCommitWindowMs: num(config, 'WEBHOOK_GROUP_COMMIT_MS', 2),
    groupCommitMax: num(config, 'WEBHOOK_GROUP_COMMIT_MAX', 500),
    workerConcurrency: Math.max(1, num(config, 'WEBHOOK_WORKER_CONCURRENCY', 4)),
    leaseMs: num(config, 'WEBHOOK_LEASE_MS', 60_000),
    maxAttempts: Math.max(1, num(config, 'WEBHOOK_MAX_ATTEMPTS', 5)),
    retryBaseMs: num(config, 'WEBHOOK_RETRY_BASE_MS', 5_000),
    sweepIntervalMs: Math.max(50, num(config, 'WEBHOOK_SWEEP_INTERVAL_MS', 10_000)),
    purgeIntervalMs: Math.max(1000, num(config, 'WEBHOOK_PURGE_INTERVAL_MS', 3600_000)),
    retentionMs: num(config, 'WEBHOOK_RETENTION_MS', 7 * 24 * 3600_000),
    enrichRetryMs: num(config, 'WEBHOOK_ENRICH_RETRY_MS', 5_000),
    workerEnabled: config.get<string>('WEBHOOK_WORKER_ENABLED') !== 'false',
  };
}
