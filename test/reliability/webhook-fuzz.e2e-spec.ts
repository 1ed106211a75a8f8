/**
 * `npm run test:reliability`: hostile input at volume — 10 000 generated webhook bodies (each
 * posted unsigned and signed) and 2 000 generated dashboard requests. IGDM_FUZZ_BODIES,
 * IGDM_FUZZ_ROUTE_REQUESTS and IGDM_FUZZ_SEED override the figures.
 */
import { defineHostileInputSuite } from './support/hostile';

defineHostileInputSuite('10 000 bodies', {
  bodies: Number(process.env.IGDM_FUZZ_BODIES ?? 10_000),
  routeRequests: Number(process.env.IGDM_FUZZ_ROUTE_REQUESTS ?? 2_000),
  seed: Number(process.env.IGDM_FUZZ_SEED ?? 20_250_101),
  timeoutMs: 900_000,
});
