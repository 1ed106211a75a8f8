/**
 * Prints a dashboard JWT signed with the configured JWT_SECRET, for Swagger UI and scripts:
 *   npm run token -- --user user_123 [--ttl 1h]
 * Reads the settings the way the service does (process env, then .env, then .env.development), so
 * the token carries the JWT_ISSUER and JWT_AUDIENCE the service demands and fits JWT_MAX_TTL.
 */
import { dashboardClaims, setting } from './settings';
import { JwtService } from '@nestjs/jwt';
import { durationSeconds, Env } from '../src/config/env';

const USAGE = 'usage: npm run token -- --user <user_id> [--ttl 1h|30m|3600s|12h]';

function arg(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function ttlSeconds(ttl: string): number {
  const seconds = durationSeconds(ttl);
  if (seconds === undefined)
    throw new Error(`--ttl must look like 3600, 30m, 1h or 7d (got "${ttl}")`);
  return seconds;
}

function main(): void {
  const user = arg('user');
  if (!user || user.startsWith('--')) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const secret = setting('JWT_SECRET');
  if (!secret) {
    process.stderr.write('JWT_SECRET is missing: set it in the environment or .env\n');
    process.exit(1);
  }
  const expiresIn = ttlSeconds(arg('ttl') ?? '1h');
  const configured = setting('JWT_MAX_TTL');
  const maxTtl = configured ? durationSeconds(configured) : new Env().JWT_MAX_TTL;
  // A token the service would refuse is no use: say so here rather than with a 401 later.
  if (maxTtl !== undefined && expiresIn > maxTtl)
    throw new Error(`--ttl ${expiresIn}s exceeds JWT_MAX_TTL (${maxTtl}s)`);
  const token = new JwtService({ secret }).sign(
    { sub: user },
    { algorithm: 'HS256', expiresIn, ...dashboardClaims() },
  );
  process.stdout.write(`${token}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
