import { UsageSnapshot } from './instagram-graph.types';
import { backoffDelay } from './retry-policy';

/** Knobs of the per-account limiter; see GraphTuning for the defaults and their reasons. */
export interface RateLimiterTuning {
  /** Usage percentage from which calls for the account are slowed down. */
  usageThreshold: number;
  throttleBaseMs: number;
  throttleMaxMs: number;
  /** Longest a call waits for its account to be allowed again before failing fast with 429. */
  maxWaitMs: number;
  /** Usage figures older than this no longer slow calls down (Meta stops sending the headers). */
  usageTtlMs: number;
  /** Backoff after a rate-limit error that gave no regain time, growing per consecutive error. */
  rateLimitBaseMs: number;
  rateLimitMaxMs: number;
}

export interface AppUsage {
  call_count: number;
  total_cputime: number;
  total_time: number;
}

export interface BusinessUseCaseUsage {
  businessId: string;
  type: string | null;
  call_count: number;
  total_cputime: number;
  total_time: number;
  /** Minutes. */
  estimated_time_to_regain_access: number;
}

export interface ParsedUsage {
  app: AppUsage | null;
  businessUseCase: BusinessUseCaseUsage[];
}

type HeaderBag = Record<string, unknown>;

function header(headers: HeaderBag, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0;
}

function parseJson(raw: string | undefined): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/**
 * Reads `X-App-Usage` and `X-Business-Use-Case-Usage` (graph-api.md §8). Malformed headers are
 * ignored rather than failing a call that otherwise succeeded.
 */
export function parseUsageHeaders(headers: HeaderBag): ParsedUsage {
  const appRaw = parseJson(header(headers, 'x-app-usage'));
  const app =
    typeof appRaw === 'object' && appRaw !== null && !Array.isArray(appRaw)
      ? {
          call_count: num((appRaw as AppUsage).call_count),
          total_cputime: num((appRaw as AppUsage).total_cputime),
          total_time: num((appRaw as AppUsage).total_time),
        }
      : null;

  const bucRaw = parseJson(header(headers, 'x-business-use-case-usage'));
  const businessUseCase: BusinessUseCaseUsage[] = [];
  if (typeof bucRaw === 'object' && bucRaw !== null && !Array.isArray(bucRaw)) {
    for (const [businessId, entries] of Object.entries(bucRaw as Record<string, unknown>)) {
      const list = Array.isArray(entries) ? entries : [entries];
      for (const entry of list) {
        if (typeof entry !== 'object' || entry === null) continue;
        const e = entry as Record<string, unknown>;
        businessUseCase.push({
          businessId,
          type: typeof e.type === 'string' ? e.type : null,
          call_count: num(e.call_count),
          total_cputime: num(e.total_cputime),
          total_time: num(e.total_time),
          estimated_time_to_regain_access: num(e.estimated_time_to_regain_access),
        });
      }
    }
  }
  return { app, businessUseCase };
}

export function maxUsagePercent(usage: ParsedUsage): number {
  const values: number[] = [];
  if (usage.app) values.push(usage.app.call_count, usage.app.total_cputime, usage.app.total_time);
  for (const b of usage.businessUseCase) values.push(b.call_count, b.total_cputime, b.total_time);
  return values.length > 0 ? Math.max(...values) : 0;
}

/** Longest regain time among the business-use-case entries, in minutes (0 when none). */
export function regainMinutes(usage: ParsedUsage): number {
  return usage.businessUseCase.reduce((m, b) => Math.max(m, b.estimated_time_to_regain_access), 0);
}

/**
 * Delay before a call when usage is between the threshold and 100 %: grows from the base to 16×
 * the base as usage approaches 100, bounded, jittered so queued calls do not leave together.
 */
export function throttleDelay(
  percent: number,
  tuning: Pick<RateLimiterTuning, 'usageThreshold' | 'throttleBaseMs' | 'throttleMaxMs'>,
  random: () => number = Math.random,
): number {
  if (percent < tuning.usageThreshold) return 0;
  const span = Math.max(1, 100 - tuning.usageThreshold);
  const fraction = Math.min(1, (percent - tuning.usageThreshold) / span);
  const step = Math.min(tuning.throttleMaxMs, tuning.throttleBaseMs * 2 ** (fraction * 4));
  return Math.round(step / 2 + random() * (step / 2));
}

interface AccountState {
  usage: ParsedUsage;
  maxPercent: number;
  observedAt: number | null;
  blockedUntil: number;
  /** Consecutive rate-limit errors, reset by a success. */
  strikes: number;
  lastSuccessAt: number | null;
}

export type GatePlan =
  { action: 'go'; waitMs: number } | { action: 'fail'; retryAfterSeconds: number };

/**
 * Per-account view of Meta's usage. Purely in memory and per process: each instance learns the
 * usage from its own replies, which is what Meta reports on every call anyway.
 */
export class GraphRateLimiter {
  private readonly accounts = new Map<string, AccountState>();

  constructor(
    private readonly tuning: RateLimiterTuning,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  private state(igId: string): AccountState {
    let s = this.accounts.get(igId);
    if (!s) {
      s = {
        usage: { app: null, businessUseCase: [] },
        maxPercent: 0,
        observedAt: null,
        blockedUntil: 0,
        strikes: 0,
        lastSuccessAt: null,
      };
      this.accounts.set(igId, s);
    }
    return s;
  }

  /** Records the usage headers of any reply, error replies included. */
  observe(igId: string, headers: HeaderBag): void {
    const usage = parseUsageHeaders(headers);
    if (!usage.app && usage.businessUseCase.length === 0) return;
    const s = this.state(igId);
    const now = this.now();
    s.usage = usage;
    s.maxPercent = maxUsagePercent(usage);
    s.observedAt = now;
    const regain = regainMinutes(usage);
    if (regain > 0) s.blockedUntil = Math.max(s.blockedUntil, now + regain * 60_000);
    else if (s.maxPercent >= 100)
      s.blockedUntil = Math.max(s.blockedUntil, now + this.tuning.throttleMaxMs);
  }

  /** After a rate-limit error: block the account and return the Retry-After in seconds. */
  noteRateLimited(igId: string): number {
    const s = this.state(igId);
    const now = this.now();
    s.strikes += 1;
    if (s.blockedUntil <= now) {
      s.blockedUntil =
        now +
        backoffDelay(
          s.strikes,
          this.tuning.rateLimitBaseMs,
          this.tuning.rateLimitMaxMs,
          this.random,
        );
    }
    return Math.max(1, Math.ceil((s.blockedUntil - now) / 1000));
  }

  noteSuccess(igId: string): void {
    const s = this.state(igId);
    s.strikes = 0;
    s.lastSuccessAt = this.now();
  }

  /** How long the next call for the account must wait, or that it should fail fast. */
  plan(igId: string): GatePlan {
    const s = this.accounts.get(igId);
    if (!s) return { action: 'go', waitMs: 0 };
    const now = this.now();
    if (s.blockedUntil > now) {
      const wait = s.blockedUntil - now;
      if (wait > this.tuning.maxWaitMs) {
        return { action: 'fail', retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)) };
      }
      return { action: 'go', waitMs: wait };
    }
    const fresh = s.observedAt !== null && now - s.observedAt <= this.tuning.usageTtlMs;
    if (!fresh) return { action: 'go', waitMs: 0 };
    return { action: 'go', waitMs: throttleDelay(s.maxPercent, this.tuning, this.random) };
  }

  snapshot(igId: string): UsageSnapshot | null {
    const s = this.accounts.get(igId);
    if (!s) return null;
    return {
      app: s.usage.app,
      businessUseCase: s.usage.businessUseCase,
      maxPercent: s.maxPercent,
      observedAt: s.observedAt === null ? null : new Date(s.observedAt),
      blockedUntil: s.blockedUntil > this.now() ? new Date(s.blockedUntil) : null,
    };
  }

  lastSuccessAt(igId: string): Date | null {
    const at = this.accounts.get(igId)?.lastSuccessAt;
    return at ? new Date(at) : null;
  }
}
