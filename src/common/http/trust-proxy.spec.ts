import { InvalidEnvironmentError, validateEnv } from '../../config/env';
import { parseTrustProxy } from './trust-proxy';

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

describe('TRUST_PROXY', () => {
  it('should read a hop count as a number and a list as express addresses', () => {
    expect(parseTrustProxy('1')).toBe(1);
    expect(parseTrustProxy('0')).toBe(0);
    expect(parseTrustProxy(' 10.0.0.0/8, Loopback ,2001:db8::/32,192.0.2.7')).toEqual([
      '10.0.0.0/8',
      'loopback',
      '2001:db8::/32',
      '192.0.2.7',
    ]);
  });

  it('should refuse what would let a client choose its own address, or is a typo', () => {
    for (const raw of [
      'true',
      '*',
      '11',
      '-1',
      '1.5',
      '10.0.0.0/33',
      '::/129',
      'localhost',
      '1,2',
      'loopback,',
      '',
    ])
      expect({ raw, parsed: parseTrustProxy(raw) }).toEqual({ raw, parsed: undefined });
  });

  it('should default to loopback and stop the start-up on a bad value, naming the rule', () => {
    expect(validateEnv(valid)).toMatchObject({
      TRUST_PROXY: 'loopback',
      THROTTLE_ANONYMOUS_LIMIT: 120,
    });
    expect(validateEnv({ ...valid, TRUST_PROXY: '2' }).TRUST_PROXY).toBe('2');
    expect(problems({ ...valid, TRUST_PROXY: 'true', THROTTLE_ANONYMOUS_LIMIT: '0' })).toEqual([
      expect.stringMatching(/^THROTTLE_ANONYMOUS_LIMIT must not be less than 1/),
      'TRUST_PROXY must be a hop count (0-10) or a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal',
    ]);
  });
});
