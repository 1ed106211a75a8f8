import { RateLimiterTuning } from './rate-limiter';

/** Retry and throttling knobs of GraphTransport. */
export interface GraphTuning extends RateLimiterTuning {
  /** Attempts per call, the first included. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/**
 * Injection token of the tuning. The module provides {@link DEFAULT_GRAPH_TUNING}; tests override
 * it (`overrideProvider(GRAPH_TUNING)`) so retries and waits take milliseconds.
 */
export const GRAPH_TUNING = Symbol('GRAPH_TUNING');

export const DEFAULT_GRAPH_TUNING: GraphTuning = {
  // Three attempts rides out a blip without stacking up more than a few seconds of latency.
  maxAttempts: 3,
  retryBaseMs: 200,
  retryMaxMs: 2_000,
  // Meta's own guidance (graph-api.md §8): start throttling around 80 %.
  usageThreshold: 80,
  throttleBaseMs: 250,
  throttleMaxMs: 5_000,
  // A dashboard request should not hang much longer than one Graph timeout.
  maxWaitMs: 15_000,
  usageTtlMs: 60_000,
  rateLimitBaseMs: 1_000,
  rateLimitMaxMs: 60_000,
};
