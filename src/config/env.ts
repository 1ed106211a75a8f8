import 'reflect-metadata';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsEnum,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidationError,
  validateSync,
} from 'class-validator';

export enum Environment {
  Development = 'development',
  Test = 'test',
  Production = 'production',
}

const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const HTTP_URL = /^https?:\/\/[^\s/$.?#].[^\s]*$/i;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Every variable the service reads. Names follow the Python reference service so its
 * deployments keep their environment; the ones after PORT are igdm's own.
 */
export class Env {
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^mongodb(\+srv)?:\/\/\S+$/, { message: 'must be a mongodb:// or mongodb+srv:// URL' })
  DATABASE_URL?: string;

  @IsString()
  @Matches(/^[^/\\. "$*<>:|?]{1,63}$/, { message: 'must be a valid MongoDB database name' })
  DATABASE_NAME: string = 'instagram_dm_app';

  @IsString() @IsNotEmpty() INSTAGRAM_CLIENT_ID!: string;
  @IsString() @IsNotEmpty() INSTAGRAM_CLIENT_SECRET!: string;

  @IsOptional() @Transform(emptyToUndefined) @IsString() META_KROSSPOST_APP_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() META_KROSSPOST_APP_SECRET?: string;

  @IsString() @IsNotEmpty() META_WEBHOOK_VERIFY_TOKEN!: string;

  @IsEnum(Environment, { message: 'must be one of development, test, production' })
  ENVIRONMENT: Environment = Environment.Development;

  @Matches(HTTP_URL, { message: 'must be an http(s) URL' }) FRONTEND_URL!: string;
  @Matches(HTTP_URL, { message: 'must be an http(s) URL' }) API_URL!: string;

  @IsString() @MinLength(16) JWT_SECRET!: string;
  @IsString() @MinLength(16) ENCRYPTION_KEY!: string;

  @IsOptional() @Transform(emptyToUndefined) @IsString() AWS_ACCESS_KEY_ID?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() AWS_SECRET_ACCESS_KEY?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() AWS_REGION?: string;
  @IsOptional() @Transform(emptyToUndefined) @IsString() S3_BUCKET_NAME?: string;

  @IsInt() @Min(0) @Max(65535) PORT: number = 8000;

  @Matches(HTTP_URL, { message: 'must be an http(s) URL' })
  INSTAGRAM_GRAPH_URL: string = 'https://graph.instagram.com';
  @Matches(HTTP_URL, { message: 'must be an http(s) URL' })
  INSTAGRAM_API_URL: string = 'https://api.instagram.com';
  @Matches(HTTP_URL, { message: 'must be an http(s) URL' })
  INSTAGRAM_WWW_URL: string = 'https://www.instagram.com';
  @Matches(/^v\d+\.\d+$/, { message: 'must look like v24.0' })
  INSTAGRAM_API_VERSION: string = 'v24.0';

  /** Milliseconds before a Graph API call is abandoned. */
  @IsInt() @Min(100) @Max(120_000) GRAPH_TIMEOUT_MS: number = 10_000;

  /** Attempts per Graph read (sends are never retried after an ambiguous failure). */
  @IsInt() @Min(1) @Max(10) GRAPH_MAX_ATTEMPTS: number = 3;
  /** Usage percentage (X-App-Usage / X-Business-Use-Case-Usage) at which calls start to wait. */
  @IsInt() @Min(1) @Max(100) GRAPH_USAGE_THROTTLE_PERCENT: number = 80;
  /** Longest a call waits for a rate-limited account before failing with 429 + Retry-After. */
  @IsInt() @Min(0) @Max(600_000) GRAPH_MAX_WAIT_MS: number = 15_000;

  /** Tokens expiring within this many days are refreshed by the hourly job. */
  @IsInt() @Min(1) @Max(59) TOKEN_REFRESH_MARGIN_DAYS: number = 10;
  /** The refresh job runs unless this is false (unset: on, except with ENVIRONMENT=test). */
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && value !== '' ? value.toLowerCase() === 'true' : value || undefined,
  )
  @IsBoolean()
  TOKEN_REFRESH_ENABLED?: boolean;

  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Folder of the embedded database's files (development only). */
  @IsString() EMBEDDED_DB_DIR: string = '.data/db';
}

/** Secrets that must not be guessable in production. */
const PRODUCTION_SECRETS = [
  'JWT_SECRET',
  'ENCRYPTION_KEY',
  'INSTAGRAM_CLIENT_SECRET',
  'META_WEBHOOK_VERIFY_TOKEN',
] as const;
const PLACEHOLDER =
  /^(your[_-]|change[_-]?me|changeme|secret$|password$|example|placeholder|xxx|dev[_-])/i;
const MIN_PRODUCTION_SECRET = 32;

function describe(errors: ValidationError[]): string[] {
  // The message names the variable and the rule, never the value: it may be a secret.
  return errors.map((error) =>
    error.value === undefined
      ? `${error.property} is missing`
      : `${error.property} ${Object.values(error.constraints ?? {})
          .map((rule) => rule.replace(`${error.property} `, ''))
          .join('; ')}`,
  );
}

/** Thrown for a bad environment; main.ts prints its message on one line and exits 1. */
export class InvalidEnvironmentError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment: ${problems.join('; ')}`);
  }
}

export function validateEnv(raw: Record<string, unknown>): Env {
  const env = plainToInstance(Env, raw, {
    enableImplicitConversion: true,
    exposeDefaultValues: true,
  });
  const problems = describe(validateSync(env, { skipMissingProperties: false }));

  if (env.ENVIRONMENT === Environment.Production) {
    for (const name of PRODUCTION_SECRETS) {
      const value = env[name];
      if (typeof value !== 'string' || problems.some((p) => p.startsWith(`${name} `))) continue;
      if (PLACEHOLDER.test(value)) problems.push(`${name} is a placeholder; set a real secret`);
      else if (name !== 'META_WEBHOOK_VERIFY_TOKEN' && value.length < MIN_PRODUCTION_SECRET)
        problems.push(`${name} must be at least ${MIN_PRODUCTION_SECRET} characters in production`);
    }
    if (!env.DATABASE_URL) problems.push('DATABASE_URL is missing (required in production)');
  }
  if (problems.length > 0) throw new InvalidEnvironmentError(problems);
  return env;
}
