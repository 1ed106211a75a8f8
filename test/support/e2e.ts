import { INestApplication } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { getConnectionToken } from '@nestjs/mongoose';
import { randomBytes } from 'node:crypto';
import { Connection } from 'mongoose';
import request from 'supertest';

export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdef';
export const TEST_APP_SECRET = 'sim-app-secret';
export const TEST_VERIFY_TOKEN = 'test-verify-token';
export const TEST_ENCRYPTION_KEY = 'test-encryption-key-0123456789abcdef';

/** A database of its own for each test file: files run in parallel on one server. */
export function uniqueDatabaseName(prefix = 'igdm_test'): string {
  return `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

export function testEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const url = process.env.IGDM_TEST_DATABASE_URL;
  if (!url)
    throw new Error(
      'IGDM_TEST_DATABASE_URL is not set: run tests through jest (test/jest.config.ts)',
    );
  const env: Record<string, string | undefined> = {
    ENVIRONMENT: 'test',
    DATABASE_URL: url,
    DATABASE_NAME: uniqueDatabaseName(),
    INSTAGRAM_CLIENT_ID: '1234567890123456',
    INSTAGRAM_CLIENT_SECRET: TEST_APP_SECRET,
    META_WEBHOOK_VERIFY_TOKEN: TEST_VERIFY_TOKEN,
    FRONTEND_URL: 'http://frontend.test',
    API_URL: 'http://api.test',
    JWT_SECRET: TEST_JWT_SECRET,
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    LOG_LEVEL: process.env.IGDM_TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

export interface TestApp {
  app: INestApplication;
  http: () => ReturnType<typeof request>;
  connection: Connection;
  env: Record<string, string>;
  /** A bearer header for the given user id. */
  bearer: (userId: string, options?: { expiresIn?: number }) => { Authorization: string };
  close: () => Promise<void>;
}

/**
 * The real AppModule through the production pipeline (configureApp), on a real database.
 * Config is validated when AppModule is imported, so the environment is set first and the
 * module loaded afterwards; one app per test file.
 */
export async function createTestApp(
  overrides: Record<string, string | undefined> = {},
): Promise<TestApp> {
  const env = testEnv(overrides);
  for (const key of Object.keys(overrides))
    if (overrides[key] === undefined) delete process.env[key];
  Object.assign(process.env, env);
  const { AppModule } = await import('../../src/app.module');
  const { configureApp } = await import('../../src/configure-app');
  // Opt-in (IGDM_QUERY_LOG=<file>): records every query shape for the index check.
  if (process.env.IGDM_QUERY_LOG) {
    const { installQueryRecorder } = await import('../reliability/support/query-recorder');
    installQueryRecorder(process.env.IGDM_QUERY_LOG);
  }

  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ rawBody: true, bufferLogs: true });
  configureApp(app);
  await app.init();

  const jwt = new JwtService({ secret: env.JWT_SECRET });
  const connection = app.get<Connection>(getConnectionToken());
  return {
    app,
    env,
    connection,
    http: () => request(app.getHttpServer()),
    // The issuer and audience the app is configured to demand, as a dashboard would set them.
    bearer: (userId, options = {}) => ({
      Authorization: `Bearer ${jwt.sign(
        { sub: userId },
        {
          algorithm: 'HS256',
          expiresIn: options.expiresIn ?? 3600,
          ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}),
          ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}),
        },
      )}`,
    }),
    close: async () => {
      await connection.dropDatabase().catch(() => undefined);
      await app.close();
    },
  };
}

let counter = 0;
/** A fresh tenant id per test, so tests never depend on each other's data. */
export function newUserId(): string {
  counter += 1;
  return `user_${process.pid}_${Date.now().toString(36)}_${counter}`;
}
