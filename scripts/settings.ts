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
