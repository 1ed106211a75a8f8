import { parse } from 'dotenv';
import { existsSync, readFileSync } from 'node:fs';
import { envFiles } from '../src/config/config.module';

/** A variable as the service would see it: process env, then .env, then .env.development. */
export function setting(name: string): string | undefined {
  if (process.env[name]) return process.env[name];
  for (const file of envFiles()) {
    if (existsSync(file)) {
      const value = parse(readFileSync(file))[name];
      if (value) return value;
    }
  }
  return undefined;
}

/** The claims the service demands of dashboard tokens (JWT_ISSUER, JWT_AUDIENCE), as sign options. */
export function dashboardClaims(): { issuer?: string; audience?: string } {
  const issuer = setting('JWT_ISSUER');
  const audience = setting('JWT_AUDIENCE');
  return { ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}) };
}
