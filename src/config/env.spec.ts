import { InvalidEnvironmentError, validateEnv } from './env';

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

  it('should accept an empty optional variable as unset', () => {
    expect(
      validateEnv({ ...valid, DATABASE_URL: '', AWS_REGION: '' }).DATABASE_URL,
    ).toBeUndefined();
  });
});
