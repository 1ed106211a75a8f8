import type { ConfigService } from '@nestjs/config';
import type { Env } from '../config/env';

/** Timings of the delivery pipeline; the defaults are production values, tests shorten them. */
export interface WebhookTuning {
  /** How long acknowledgements wait to share one insertMany. */
  groupCommitWindowMs: number;
  /** Largest group commit. */
  groupCommitMax: number;
  /** Batches processed at once by one instance. */
  workerConcurrency: number;
  /** Most deliveries one batch takes from the queue. */
  workerBatch: number;
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

/**
 * The WEBHOOK_* variables, validated with their bounds and defaults in src/config/env.ts (a
 * malformed value stops start-up there), so no parsing or fallback is needed here.
 * The untyped ConfigService is accepted too because the injected instance is the same validated
 * one; the webhook services declare it untyped.
 */
export function webhookTuning(service: ConfigService<Env, true> | ConfigService): WebhookTuning {
  const config = service as ConfigService<Env, true>;
  const get = <K extends keyof Env>(key: K): Env[K] => config.get(key, { infer: true });
  return {
    groupCommitWindowMs: get('WEBHOOK_GROUP_COMMIT_MS'),
    groupCommitMax: get('WEBHOOK_GROUP_COMMIT_MAX'),
    workerConcurrency: get('WEBHOOK_WORKER_CONCURRENCY'),
    workerBatch: get('WEBHOOK_WORKER_BATCH'),
    leaseMs: get('WEBHOOK_LEASE_MS'),
    maxAttempts: get('WEBHOOK_MAX_ATTEMPTS'),
    retryBaseMs: get('WEBHOOK_RETRY_BASE_MS'),
    sweepIntervalMs: get('WEBHOOK_SWEEP_INTERVAL_MS'),
    purgeIntervalMs: get('WEBHOOK_PURGE_INTERVAL_MS'),
    retentionMs: get('WEBHOOK_RETENTION_MS'),
    enrichRetryMs: get('WEBHOOK_ENRICH_RETRY_MS'),
    workerEnabled: get('WEBHOOK_WORKER_ENABLED'),
  };
}
