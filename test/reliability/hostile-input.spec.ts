/**
 * `npm test`: the hostile-input suite at CI size (1 000 generated webhook bodies, each posted
 * unsigned and signed, and 300 generated dashboard requests); `npm run test:reliability` runs
 * the same at 10 000 (webhook-fuzz.e2e-spec.ts). A different seed each day widens coverage.
 */
import { defineHostileInputSuite } from './support/hostile';

defineHostileInputSuite('CI size', {
  bodies: 1_000,
  routeRequests: 300,
  seed: Number(process.env.IGDM_FUZZ_SEED ?? Math.floor(Date.now() / 86_400_000)),
  timeoutMs: 180_000,
});
