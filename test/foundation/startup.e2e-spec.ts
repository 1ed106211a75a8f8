import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** Runs src/main.ts as `npm start` would, with exactly the given environment. */
function start(env: Record<string, string>) {
  return spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('start-up configuration', () => {
  it('should exit 1 naming JWT_SECRET when it is missing in production', () => {
    const result = start({
      ENVIRONMENT: 'production',
      DATABASE_URL: 'mongodb://127.0.0.1:1',
      INSTAGRAM_CLIENT_ID: '1234567890123456',
      INSTAGRAM_CLIENT_SECRET: 'a1b2c3d4'.repeat(5),
      META_WEBHOOK_VERIFY_TOKEN: 'meta-verify-token',
      FRONTEND_URL: 'https://app.example.com',
      API_URL: 'https://api.example.com',
      ENCRYPTION_KEY: 'e'.repeat(40),
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe('Invalid environment: JWT_SECRET is missing');
  });

  it('should exit 1 naming a malformed PORT', () => {
    const result = start({ ENVIRONMENT: 'test', PORT: 'not-a-port', JWT_SECRET: 'j'.repeat(32) });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^Invalid environment: PORT .*must be an integer number/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
