import {
  GraphRateLimiter,
  maxUsagePercent,
  parseUsageHeaders,
  RateLimiterTuning,
  regainMinutes,
  throttleDelay,
} from './rate-limiter';

const TUNING: RateLimiterTuning = {
  usageThreshold: 80,
  throttleBaseMs: 100,
  throttleMaxMs: 2_000,
  maxWaitMs: 10_000,
  usageTtlMs: 60_000,
  rateLimitBaseMs: 1_000,
  rateLimitMaxMs: 8_000,
};

const buc = (entries: Record<string, unknown[]>) => ({
  'x-business-use-case-usage': JSON.stringify(entries),
});

describe('parseUsageHeaders', () => {
  it('should read X-App-Usage percentages', () => {
    const usage = parseUsageHeaders({
      'x-app-usage': '{"call_count":28,"total_cputime":25,"total_time":31}',
    });
    expect(usage.app).toEqual({ call_count: 28, total_cputime: 25, total_time: 31 });
    expect(maxUsagePercent(usage)).toBe(31);
  });

  it('should read every business of X-Business-Use-Case-Usage', () => {
    const usage = parseUsageHeaders(
      buc({
        '17841400000000001': [
          {
            type: 'instagram',
            call_count: 12,
            total_cputime: 3,
            total_time: 4,
            estimated_time_to_regain_access: 0,
          },
        ],
        '1000000001': [
          {
            type: 'messenger',
            call_count: 85,
            total_cputime: 2,
            total_time: 1,
            estimated_time_to_regain_access: 7,
          },
        ],
      }),
    );
    const byId = [...usage.businessUseCase].sort((a, b) =>
      a.businessId.localeCompare(b.businessId),
    );
    expect(byId).toEqual([
      {
        businessId: '1000000001',
        type: 'messenger',
        call_count: 85,
        total_cputime: 2,
        total_time: 1,
        estimated_time_to_regain_access: 7,
      },
      {
        businessId: '17841400000000001',
        type: 'instagram',
        call_count: 12,
        total_cputime: 3,
        total_time: 4,
        estimated_time_to_regain_access: 0,
      },
    ]);
    expect(maxUsagePercent(usage)).toBe(85);
    expect(regainMinutes(usage)).toBe(7);
  });

  it('should accept header names in any case and array values', () => {
    const usage = parseUsageHeaders({ 'X-App-Usage': ['{"call_count":5}'] });
    expect(usage.app).toEqual({ call_count: 5, total_cputime: 0, total_time: 0 });
  });

  it('should ignore malformed headers', () => {
    const usage = parseUsageHeaders({
      'x-app-usage': 'not json',
      'x-business-use-case-usage': '[1,2]',
    });
    expect(usage).toEqual({ app: null, businessUseCase: [] });
    expect(maxUsagePercent(usage)).toBe(0);
  });
});

describe('throttleDelay', () => {
  it('should not delay below the threshold', () => {
    expect(throttleDelay(79, TUNING, () => 1)).toBe(0);
  });

  it('should grow from the base at the threshold to the bound at 100 %', () => {
    expect(throttleDelay(80, TUNING, () => 1)).toBe(100);
    expect(throttleDelay(90, TUNING, () => 1)).toBe(400);
    expect(throttleDelay(100, TUNING, () => 1)).toBe(1_600);
    expect(throttleDelay(250, TUNING, () => 1)).toBe(1_600);
    expect(throttleDelay(100, { ...TUNING, throttleMaxMs: 500 }, () => 1)).toBe(500);
  });

  it('should jitter between half and all of the step', () => {
    expect(throttleDelay(90, TUNING, () => 0)).toBe(200);
  });
});

describe('GraphRateLimiter', () => {
  let now = 1_000_000;
  const limiter = () =>
    new GraphRateLimiter(
      TUNING,
      () => now,
      () => 1,
    );
  beforeEach(() => {
    now = 1_000_000;
  });

  it('should let an unknown account go at once', () => {
    expect(limiter().plan('a')).toEqual({ action: 'go', waitMs: 0 });
  });

  it('should slow down only the account whose usage is high', () => {
    const l = limiter();
    l.observe('a', buc({ a: [{ call_count: 90 }] }));
    l.observe('b', buc({ b: [{ call_count: 10 }] }));
    expect(l.plan('a')).toEqual({ action: 'go', waitMs: 400 });
    expect(l.plan('b')).toEqual({ action: 'go', waitMs: 0 });
  });

  it('should forget usage figures once they are stale', () => {
    const l = limiter();
    l.observe('a', buc({ a: [{ call_count: 90 }] }));
    now += TUNING.usageTtlMs + 1;
    expect(l.plan('a')).toEqual({ action: 'go', waitMs: 0 });
  });

  it('should fail fast when the regain time exceeds the longest wait', () => {
    const l = limiter();
    l.observe('a', buc({ a: [{ call_count: 100, estimated_time_to_regain_access: 5 }] }));
    expect(l.plan('a')).toEqual({ action: 'fail', retryAfterSeconds: 300 });
    expect(l.snapshot('a')?.blockedUntil).toEqual(new Date(now + 300_000));
  });

  it('should wait out a block shorter than the longest wait', () => {
    const l = limiter();
    l.observe('a', buc({ a: [{ call_count: 100 }] }));
    expect(l.plan('a')).toEqual({ action: 'go', waitMs: TUNING.throttleMaxMs });
    now += TUNING.throttleMaxMs;
    expect(l.plan('a').action).toBe('go');
  });

  it('should back off longer after each consecutive rate-limit error', () => {
    const l = limiter();
    expect(l.noteRateLimited('a')).toBe(1);
    now += 1_000;
    expect(l.noteRateLimited('a')).toBe(2);
    now += 2_000;
    expect(l.noteRateLimited('a')).toBe(4);
    now += 4_000;
    l.noteSuccess('a');
    expect(l.noteRateLimited('a')).toBe(1);
  });

  it('should keep the regain time of the error reply rather than a shorter backoff', () => {
    const l = limiter();
    l.observe('a', buc({ a: [{ call_count: 100, estimated_time_to_regain_access: 2 }] }));
    expect(l.noteRateLimited('a')).toBe(120);
  });

  it('should report the last success', () => {
    const l = limiter();
    expect(l.lastSuccessAt('a')).toBeNull();
    l.noteSuccess('a');
    expect(l.lastSuccessAt('a')).toEqual(new Date(now));
  });
});
