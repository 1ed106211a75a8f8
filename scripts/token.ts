/**
 * Prints a dashboard JWT signed with the configured JWT_SECRET, for Swagger UI and scripts:
 *   npm run token -- --user user_123 [--ttl 1h]
 * Reads the secret the way the service does (process env, then .env, then .env.development).
 */
import { setting } from './settings';
import { JwtService } from '@nestjs/jwt';

const USAGE = 'usage: npm run token -- --user <user_id> [--ttl 1h|30m|3600s|7d]';

function arg(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function ttlSeconds(ttl: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(ttl);
  if (!match) throw new Error(`--ttl must look like 3600, 30m, 1h or 7d (got "${ttl}")`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
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
  const token = new JwtService({ secret }).sign({ sub: user }, { algorithm: 'HS256', expiresIn });
  process.stdout.write(`${token}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
