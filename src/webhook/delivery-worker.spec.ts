import { nextSweepDelay } from './delivery-worker.service';

describe('nextSweepDelay', () => {
  it('should keep the configured interval while sweeps are quick (MongoDB, small tables)', () => {
    expect(nextSweepDelay(10_000, 5)).toBe(10_000);
    expect(nextSweepDelay(10_000, 1_000)).toBe(10_000);
  });

  it('should space slow sweeps out so that sweeping takes at most a tenth of the time', () => {
    // A 3 s scan (FerretDB, a week of deliveries) is followed by 27 s without one.
    expect(nextSweepDelay(10_000, 3_000)).toBe(27_000);
    const sweepMs = 8_000;
    const delay = nextSweepDelay(10_000, sweepMs);
    expect(sweepMs / (sweepMs + delay)).toBeCloseTo(0.1, 5);
  });
});
