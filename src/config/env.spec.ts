import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Env, InvalidEnvironmentError, validateEnv } from './env';

const valid = {
  INSTAGRAM_CLIENT_ID: '1234567890123456',
  INSTAGRAM_CLIENT_SECRET: 'a-real-looking-instagram-app-secret-value-123',
  META_WEBHOOK_VERIFY_TOKEN: 'verify-token-for-meta',
  FRONTEND_URL: 'https://app.example.com',
  API_URL: 'https://api.example.com',
  JWT_SECRET: 'k'.repeat(40),
  ENCRYPTION_KEY: 'e'.repeat(40),
};

function problems(raw: Record<string, unknown>): string[] {
  try {
    validateEnv(raw);
    return [];
  } catch (error) {
    if (error instanceof InvalidEnvironmentError) return error.problems;
    throw error;
  }
}

describe('validateEnv', () => {
  it('should apply the documented defaults', () => {
    const env = validateEnv(valid);
    expect(env).toMatchObject({
      PORT: 8000,
      DATABASE_NAME: 'instagram_dm_app',
      INSTAGRAM_GRAPH_URL: 'https://graph.instagram.com',
      INSTAGRAM_API_URL: 'https://api.instagram.com',
      INSTAGRAM_WWW_URL: 'https://www.instagram.com',
      INSTAGRAM_API_VERSION: 'v24.0',
      ENVIRONMENT: 'development',
      LOG_LEVEL: 'info',
    });
  });

  it('should name a missing variable without its value', () => {
    const { JWT_SECRET: _omitted, ...rest } = valid;
    expect(problems(rest)).toEqual(['JWT_SECRET is missing']);
  });

  it('should name a malformed variable and the rule it breaks', () => {
    const found = problems({
      ...valid,
      PORT: 'eighty',
      DATABASE_URL: 'postgres://x',
      INSTAGRAM_API_VERSION: '24',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT /),
        'DATABASE_URL must be a mongodb:// or mongodb+srv:// URL',
        'INSTAGRAM_API_VERSION must look like v24.0',
      ]),
    );
    expect(found.join(' ')).not.toContain('postgres://x');
  });

  it('should refuse placeholder and short secrets in production', () => {
    const found = problems({
      ...valid,
      ENVIRONMENT: 'production',
      DATABASE_URL: 'mongodb://db:27017',
      JWT_SECRET: 'your_jwt_secret_key',
      ENCRYPTION_KEY: 'short-but-valid-16',
    });
    expect(found).toEqual([
      'JWT_SECRET is a placeholder; set a real secret',
      'ENCRYPTION_KEY must be at least 32 characters in production',
    ]);
  });

  it('should require DATABASE_URL in production', () => {
    expect(problems({ ...valid, ENVIRONMENT: 'production' })).toEqual([
      'DATABASE_URL is missing (required in production)',
    ]);
  });

  it('should apply the defaults of the pipeline, stream and rate-limit variables', () => {
    expect(validateEnv(valid)).toMatchObject({
      WEBHOOK_GROUP_COMMIT_MS: 2,
      WEBHOOK_GROUP_COMMIT_MAX: 500,
      WEBHOOK_WORKER_CONCURRENCY: 1,
      WEBHOOK_WORKER_BATCH: 2_000,
      WEBHOOK_LEASE_MS: 60_000,
      WEBHOOK_MAX_ATTEMPTS: 5,
      WEBHOOK_RETRY_BASE_MS: 5_000,
      WEBHOOK_SWEEP_INTERVAL_MS: 10_000,
      WEBHOOK_PURGE_INTERVAL_MS: 3_600_000,
      WEBHOOK_RETENTION_MS: 7 * 24 * 3_600_000,
      WEBHOOK_ENRICH_RETRY_MS: 5_000,
      WEBHOOK_WORKER_ENABLED: true,
      DMS_STREAM_HEARTBEAT_MS: 15_000,
      DMS_STREAM_POLL_MS: 0,
      DMS_STREAM_REPLAY_LIMIT: 5_000,
      THROTTLE_TTL_MS: 60_000,
      THROTTLE_LIMIT: 600,
      THROTTLE_SEND_LIMIT: 30,
    });
  });

  it('should read the pipeline, stream and rate-limit variables as typed values', () => {
    expect(
      validateEnv({
        ...valid,
        WEBHOOK_SWEEP_INTERVAL_MS: '200',
        WEBHOOK_WORKER_ENABLED: 'false',
        DMS_STREAM_POLL_MS: '100',
        THROTTLE_SEND_LIMIT: '3',
        IGDM_EMBEDDED_DB: 'ferretdb',
      }),
    ).toMatchObject({
      WEBHOOK_SWEEP_INTERVAL_MS: 200,
      WEBHOOK_WORKER_ENABLED: false,
      DMS_STREAM_POLL_MS: 100,
      THROTTLE_SEND_LIMIT: 3,
      IGDM_EMBEDDED_DB: 'ferretdb',
    });
  });

  it('should read "false" as false, not as a non-empty string (true)', () => {
    for (const [raw, expected] of [
      ['false', false],
      ['FALSE', false],
      ['0', false],
      ['true', true],
      ['1', true],
    ] as const) {
      expect(validateEnv({ ...valid, TOKEN_REFRESH_ENABLED: raw }).TOKEN_REFRESH_ENABLED).toBe(
        expected,
      );
      expect(validateEnv({ ...valid, WEBHOOK_WORKER_ENABLED: raw }).WEBHOOK_WORKER_ENABLED).toBe(
        expected,
      );
    }
  });

  it('should stop on a malformed pipeline, stream or rate-limit variable, naming it', () => {
    const found = problems({
      ...valid,
      WEBHOOK_LEASE_MS: 'a minute',
      WEBHOOK_MAX_ATTEMPTS: '0',
      WEBHOOK_GROUP_COMMIT_MS: '2.5',
      WEBHOOK_WORKER_ENABLED: 'maybe',
      DMS_STREAM_HEARTBEAT_MS: '5',
      DMS_STREAM_REPLAY_LIMIT: '-1',
      THROTTLE_LIMIT: '0',
      THROTTLE_TTL_MS: 'lots',
      TOKEN_REFRESH_ENABLED: 'yes please',
      IGDM_EMBEDDED_DB: 'ferret',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^WEBHOOK_LEASE_MS must be an integer/),
        expect.stringMatching(/^WEBHOOK_MAX_ATTEMPTS must not be less than 1/),
        expect.stringMatching(/^WEBHOOK_GROUP_COMMIT_MS must be an integer/),
        'WEBHOOK_WORKER_ENABLED must be true or false',
        expect.stringMatching(/^DMS_STREAM_HEARTBEAT_MS must not be less than 10/),
        expect.stringMatching(/^DMS_STREAM_REPLAY_LIMIT must not be less than 1/),
        expect.stringMatching(/^THROTTLE_LIMIT must not be less than 1/),
        expect.stringMatching(/^THROTTLE_TTL_MS /),
        'TOKEN_REFRESH_ENABLED must be true or false',
        'IGDM_EMBEDDED_DB must be auto or ferretdb',
      ]),
    );
    expect(found).toHaveLength(10);
    expect(found.join(' ')).not.toMatch(/a minute|maybe|yes please|ferret\b/);
  });

  it('should read JWT_MAX_TTL as seconds or a duration, and bound the stream variables', () => {
    expect(validateEnv(valid)).toMatchObject({
      JWT_MAX_TTL: 86_400,
      DMS_STREAM_REPLAY_MAX: 10_000,
      DMS_STREAM_MAX_PER_USER: 5,
    });
    for (const [raw, seconds] of [
      ['7200', 7_200],
      ['90m', 5_400],
      ['12h', 43_200],
      ['7D', 604_800],
    ] as const)
      expect(validateEnv({ ...valid, JWT_MAX_TTL: raw }).JWT_MAX_TTL).toBe(seconds);
    expect(
      problems({
        ...valid,
        JWT_MAX_TTL: 'a day',
        DMS_STREAM_MAX_PER_USER: '0',
        JWT_SECRET_PREVIOUS: 'short',
      }),
    ).toEqual([
      'JWT_SECRET_PREVIOUS must be longer than or equal to 16 characters',
      'JWT_MAX_TTL must be seconds or a duration like 30m, 24h or 7d',
      'DMS_STREAM_MAX_PER_USER must not be less than 1',
    ]);
    expect(problems({ ...valid, JWT_MAX_TTL: '30s' })).toEqual([
      'JWT_MAX_TTL must not be less than 60',
    ]);
  });

  it('should hold JWT_SECRET_PREVIOUS to the production rules of secrets', () => {
    const production = {
      ...valid,
      ENVIRONMENT: 'production',
      DATABASE_URL: 'mongodb://db:27017',
    };
    expect(problems({ ...production, JWT_SECRET_PREVIOUS: 'p'.repeat(20) })).toEqual([
      'JWT_SECRET_PREVIOUS must be at least 32 characters in production',
    ]);
    expect(problems({ ...production, JWT_SECRET_PREVIOUS: 'p'.repeat(40) })).toEqual([]);
  });

  it('should hold META_WEBHOOK_VERIFY_TOKEN to 16 characters in production only', () => {
    const production = { ...valid, ENVIRONMENT: 'production', DATABASE_URL: 'mongodb://db:27017' };
    expect(problems({ ...production, META_WEBHOOK_VERIFY_TOKEN: 'v'.repeat(15) })).toEqual([
      'META_WEBHOOK_VERIFY_TOKEN must be at least 16 characters in production',
    ]);
    expect(problems({ ...production, META_WEBHOOK_VERIFY_TOKEN: 'v'.repeat(16) })).toEqual([]);
    expect(problems({ ...valid, META_WEBHOOK_VERIFY_TOKEN: 'short' })).toEqual([]);
  });

  it("should default MEDIA_HOSTS to Meta's media hosts and refuse an entry of another form", () => {
    expect(validateEnv(valid).MEDIA_HOSTS).toContain('lookaside.fbsbx.com');
    expect(validateEnv({ ...valid, MEDIA_HOSTS: 'http://127.0.0.1:9000' }).MEDIA_HOSTS).toBe(
      'http://127.0.0.1:9000',
    );
    for (const bad of ['*.com', 'ftp://cdn.example.com', 'cdn.example.com/path', 'a,,*'])
      expect(problems({ ...valid, MEDIA_HOSTS: bad })).toEqual([
        expect.stringMatching(/^MEDIA_HOSTS must be a comma-separated list/),
      ]);
  });

  it('should take an empty value for its default, not for 0', () => {
    expect(validateEnv({ ...valid, PORT: '', WEBHOOK_LEASE_MS: ' ' })).toMatchObject({
      PORT: 8000,
      WEBHOOK_LEASE_MS: 60_000,
    });
    expect(problems({ ...valid, JWT_SECRET: '' })).toEqual(['JWT_SECRET is missing']);
  });

  it('should accept an empty optional variable as unset', () => {
    expect(
      validateEnv({ ...valid, DATABASE_URL: '', AWS_REGION: '' }).DATABASE_URL,
    ).toBeUndefined();
  });

  it('should document every variable in .env.example and the README configuration table', () => {
    const names = [
      ...new Set(
        getMetadataStorage()
          .getTargetValidationMetadatas(Env, '', true, false)
          .map((m) => m.propertyName),
      ),
    ];
    expect(names.length).toBeGreaterThan(30);
    const root = join(__dirname, '..', '..');
    const example = readFileSync(join(root, '.env.example'), 'utf8');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const inReadme = (name: string) =>
      readme.includes(`\`${name}\``) ||
      [...readme.matchAll(/`([A-Z0-9_]+)\*`/g)].some(([, prefix]) => name.startsWith(prefix));
    expect(names.filter((name) => !new RegExp(`^${name}=`, 'm').test(example))).toEqual([]);
    expect(names.filter((name) => !inReadme(name))).toEqual([]);
  });
});
