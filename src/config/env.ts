import 'reflect-metadata';
import { plainToInstance, Transform, type TransformFnParams } from 'class-transformer';
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
  ValidateBy,
  ValidationError,
  validateSync,
} from 'class-validator';
import { parseTrustProxy, TRUST_PROXY_RULE } from '../common/http/trust-proxy';
import { DEFAULT_MEDIA_HOSTS, MEDIA_HOSTS_RULE, parseMediaHosts } from '../dms/media-hosts';

export enum Environment {
  Development = 'development',
  Test = 'test',
  Production = 'production',
}

const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/**
 * Booleans are read from the raw string: class-transformer's implicit conversion would turn
 * "false" into `true` (Boolean("false")). Anything else is left as is for @IsBoolean to refuse.
 */
const strictBoolean = ({ obj, key }: TransformFnParams): unknown => {
  const raw: unknown = (obj as Record<string, unknown>)[key];
  if (typeof raw !== 'string') return raw;
  const word = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(word)) return true;
  if (['false', '0', 'no', 'off'].includes(word)) return false;
  return raw;
};
const BOOLEAN_RULE = { message: 'must be true or false' };

const DURATION = /^(\d+)([smhd]?)$/;
const UNIT_SECONDS = { '': 1, s: 1, m: 60, h: 3_600, d: 86_400 } as const;

/** "3600", "90s", "30m", "24h" or "7d" in seconds; undefined for anything else. */
export function durationSeconds(raw: string): number | undefined {
  const match = DURATION.exec(raw.trim().toLowerCase());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}

/** Like strictBoolean, from the raw string: implicit conversion would make "24h" NaN first. */
const seconds = ({ obj, key }: TransformFnParams): unknown => {
  const raw: unknown = (obj as Record<string, unknown>)[key];
  return typeof raw === 'string' ? (durationSeconds(raw) ?? raw) : raw;
};

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
  /** The secret before a rotation: its tokens are still accepted until this is unset. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(16)
  JWT_SECRET_PREVIOUS?: string;
  /** Longest lifetime (exp − iat) of a dashboard token, in seconds or as 30m/24h/7d. */
  @Transform(seconds)
  @IsInt({ message: 'must be seconds or a duration like 30m, 24h or 7d' })
  @Min(60)
  @Max(7_776_000)
  JWT_MAX_TTL: number = 86_400;
  /** When set, a dashboard token's `iss` must equal it. */
  @IsOptional() @Transform(emptyToUndefined) @IsString() JWT_ISSUER?: string;
  /** When set, a dashboard token's `aud` must be or contain it. */
  @IsOptional() @Transform(emptyToUndefined) @IsString() JWT_AUDIENCE?: string;
  @IsString() @MinLength(16) ENCRYPTION_KEY!: string;
  /** The key before a rotation: tokens still encrypted with it decrypt, and are re-encrypted. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(16)
  ENCRYPTION_KEY_PREVIOUS?: string;

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
  @Transform(strictBoolean)
  @IsBoolean(BOOLEAN_RULE)
  TOKEN_REFRESH_ENABLED?: boolean;

  // --- No silent gaps: history import, reconciliation, fresh media links (src/sync, src/dms) ---
  /** Import an account's recent conversations when it is connected (unset: on, off in test). */
  @IsOptional()
  @Transform(strictBoolean)
  @IsBoolean(BOOLEAN_RULE)
  SYNC_IMPORT_ON_CONNECT?: boolean;
  /** Run the reconciliation job on this instance (unset: on, except with ENVIRONMENT=test). */
  @IsOptional()
  @Transform(strictBoolean)
  @IsBoolean(BOOLEAN_RULE)
  SYNC_RECONCILE_ENABLED?: boolean;
  /** How often each account's recent conversations are compared with Meta's. */
  @IsInt() @Min(1_000) @Max(86_400_000) SYNC_RECONCILE_INTERVAL_MS: number = 900_000;
  /** Messages younger than this are left to the webhook by reconciliation. */
  @IsInt() @Min(0) @Max(3_600_000) SYNC_RECONCILE_GRACE_MS: number = 120_000;
  /** Attachment URLs stored longer ago than this are re-read from Meta before a redirect. */
  @IsInt() @Min(0) @Max(2_592_000_000) MEDIA_URL_TTL_MS: number = 3_600_000;
  /**
   * Hosts the attachment route may probe and redirect to (src/dms/media-hosts.ts): https only,
   * unless an entry spells out http:// (the simulator's local CDN in tests).
   */
  @ValidateBy({
    name: 'isMediaHosts',
    validator: {
      validate: (value) => typeof value === 'string' && parseMediaHosts(value) !== undefined,
      defaultMessage: () => MEDIA_HOSTS_RULE,
    },
  })
  MEDIA_HOSTS: string = DEFAULT_MEDIA_HOSTS;

  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Folder of the embedded database's files (development only). */
  @IsString() EMBEDDED_DB_DIR: string = '.data/db';
  /**
   * Which embedded database to start when DATABASE_URL is unset: `auto` tries mongod first, then
   * FerretDB. Read by src/database/embedded-database.ts (also used outside Nest, by the tests'
   * global setup and scripts), validated here so a typo stops the service instead of being ignored.
   */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['auto', 'ferretdb'], { message: 'must be auto or ferretdb' })
  IGDM_EMBEDDED_DB?: 'auto' | 'ferretdb';

  // --- Rate limiting of this API (per user for authenticated routes, per IP for public ones)
  /** Window of the rate limits. */
  @IsInt() @Min(1_000) @Max(3_600_000) THROTTLE_TTL_MS: number = 60_000;
  /** Requests per route, caller and window. */
  @IsInt() @Min(1) @Max(1_000_000) THROTTLE_LIMIT: number = 600;
  /** Sends (POST /instagram-dms/send, comment replies) per route, user and window. */
  @IsInt() @Min(1) @Max(100_000) THROTTLE_SEND_LIMIT: number = 30;
  /**
   * Requests without a valid bearer token that do not succeed (401, 404, …), per client address
   * and window, counted before the body is read (src/common/http/anonymous-limit.ts).
   */
  @IsInt() @Min(1) @Max(1_000_000) THROTTLE_ANONYMOUS_LIMIT: number = 120;
  /**
   * Which hops may name the client in X-Forwarded-For: a hop count, or the proxies' addresses,
   * CIDR ranges and express' range names. Every per-IP limit counts the address this yields.
   */
  @ValidateBy({
    name: 'isTrustProxy',
    validator: {
      validate: (value) => typeof value === 'string' && parseTrustProxy(value) !== undefined,
      defaultMessage: () => TRUST_PROXY_RULE,
    },
  })
  TRUST_PROXY: string = 'loopback';

  // --- Webhook delivery pipeline (src/webhook/webhook-tuning.ts)
  /** How long acknowledgements wait to share one insertMany (group commit). */
  @IsInt() @Min(0) @Max(1_000) WEBHOOK_GROUP_COMMIT_MS: number = 2;
  /** Largest group commit. */
  @IsInt() @Min(1) @Max(10_000) WEBHOOK_GROUP_COMMIT_MAX: number = 500;
  /**
   * Batches of deliveries processed at once by one instance. One: what arrives while a batch
   * is stored makes the next batch, so a busy thread costs one conversation write per batch
   * rather than one per message (measured: 270 against 159 stored events/s at c50, FerretDB).
   */
  @IsInt() @Min(1) @Max(256) WEBHOOK_WORKER_CONCURRENCY: number = 1;
  /**
   * Most deliveries one batch takes; a batch's new messages are stored with a few bulk writes.
   * Each thread costs one conversation write per batch, so larger batches under a backlog cost
   * less per message (measured, FerretDB, c200: 458 against 322 stored events/s at 500, ack p99
   * 349 against 1 614 ms); its inserts go in pieces of 100, so acknowledgements do not wait.
   */
  @IsInt() @Min(1) @Max(5_000) WEBHOOK_WORKER_BATCH: number = 2_000;
  /** How long a claimed delivery stays with its instance before another may take it. */
  @IsInt() @Min(100) @Max(3_600_000) WEBHOOK_LEASE_MS: number = 60_000;
  /** Attempts before a delivery is marked failed. */
  @IsInt() @Min(1) @Max(100) WEBHOOK_MAX_ATTEMPTS: number = 5;
  /** First retry delay of a failed delivery (doubles per attempt). */
  @IsInt() @Min(0) @Max(3_600_000) WEBHOOK_RETRY_BASE_MS: number = 5_000;
  /** Sweep for pending deliveries (crash, other instance, retry). */
  @IsInt() @Min(50) @Max(3_600_000) WEBHOOK_SWEEP_INTERVAL_MS: number = 10_000;
  /** Retention purge period. */
  @IsInt() @Min(1_000) @Max(86_400_000) WEBHOOK_PURGE_INTERVAL_MS: number = 3_600_000;
  /** Processed and ignored deliveries are deleted after this long (default 7 days). */
  @IsInt() @Min(0) @Max(31_536_000_000) WEBHOOK_RETENTION_MS: number = 7 * 86_400_000;
  /** First retry delay of enrichment (customer profiles, edited text). */
  @IsInt() @Min(0) @Max(3_600_000) WEBHOOK_ENRICH_RETRY_MS: number = 5_000;
  /** false: deliveries are acknowledged and stored but not processed by this instance. */
  @Transform(strictBoolean)
  @IsBoolean(BOOLEAN_RULE)
  WEBHOOK_WORKER_ENABLED: boolean = true;

  // --- Live stream (GET /instagram-dms/stream)
  /** A comment line this often keeps proxies from closing an idle stream. */
  @IsInt() @Min(10) @Max(300_000) DMS_STREAM_HEARTBEAT_MS: number = 15_000;
  /** > 0: each stream also polls the database this often (several instances); 0: local events only. */
  @IsInt() @Min(0) @Max(600_000) DMS_STREAM_POLL_MS: number = 0;
  /** Documents of each collection read per page of a resume with Last-Event-ID. */
  @IsInt() @Min(1) @Max(100_000) DMS_STREAM_REPLAY_LIMIT: number = 5_000;
  /** Most documents one resume replays in all; past it the client is told to re-sync. */
  @IsInt() @Min(1) @Max(1_000_000) DMS_STREAM_REPLAY_MAX: number = 10_000;
  /** Streams one user may hold open at once on this instance; the next one answers 429. */
  @IsInt() @Min(1) @Max(1_000) DMS_STREAM_MAX_PER_USER: number = 5;
}

/** Secrets that must not be guessable in production. */
const PRODUCTION_SECRETS = [
  'JWT_SECRET',
  'JWT_SECRET_PREVIOUS',
  'ENCRYPTION_KEY',
  'ENCRYPTION_KEY_PREVIOUS',
  'INSTAGRAM_CLIENT_SECRET',
  'META_WEBHOOK_VERIFY_TOKEN',
] as const;
const PLACEHOLDER =
  /^(your[_-]|change[_-]?me|changeme|secret$|password$|example|placeholder|xxx|dev[_-])/i;
const MIN_PRODUCTION_SECRET = 32;
/**
 * The verify token is typed into the App Dashboard rather than generated, so it gets a lower bar
 * than the keys; below it the public handshake route could be guessed at.
 */
const MIN_PRODUCTION_VERIFY_TOKEN = 16;

function describe(errors: ValidationError[]): string[] {
  // The message names the variable and the rule, never the value: it may be a secret.
  return errors.map((error) => {
    if (error.value === undefined) return `${error.property} is missing`;
    let constraints = error.constraints ?? {};
    // "abc" for a number: the bounds say nothing useful, the type does.
    if (constraints.isInt && !Number.isFinite(error.value))
      constraints = { isInt: constraints.isInt };
    return `${error.property} ${Object.values(constraints)
      .map((rule) => rule.replace(`${error.property} `, ''))
      .join('; ')}`;
  });
}

/** Thrown for a bad environment; main.ts prints its message on one line and exits 1. */
export class InvalidEnvironmentError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment: ${problems.join('; ')}`);
  }
}

export function validateEnv(raw: Record<string, unknown>): Env {
  // An empty value (`PORT=` in a .env file) means unset: the default applies, or "is missing".
  // Without this, implicit conversion would read it as 0 for numbers.
  const given = Object.fromEntries(
    Object.entries(raw).filter(([, value]) => !(typeof value === 'string' && value.trim() === '')),
  );
  const env = plainToInstance(Env, given, {
    enableImplicitConversion: true,
    exposeDefaultValues: true,
  });
  const problems = describe(validateSync(env, { skipMissingProperties: false }));

  if (env.ENVIRONMENT === Environment.Production) {
    for (const name of PRODUCTION_SECRETS) {
      const value = env[name];
      if (typeof value !== 'string' || problems.some((p) => p.startsWith(`${name} `))) continue;
      if (PLACEHOLDER.test(value)) problems.push(`${name} is a placeholder; set a real secret`);
      else if (name === 'META_WEBHOOK_VERIFY_TOKEN') {
        if (value.length < MIN_PRODUCTION_VERIFY_TOKEN)
          problems.push(
            `${name} must be at least ${MIN_PRODUCTION_VERIFY_TOKEN} characters in production`,
          );
      } else if (value.length < MIN_PRODUCTION_SECRET)
        problems.push(`${name} must be at least ${MIN_PRODUCTION_SECRET} characters in production`);
    }
    if (!env.DATABASE_URL) problems.push('DATABASE_URL is missing (required in production)');
  }
  if (problems.length > 0) throw new InvalidEnvironmentError(problems);
  return env;
}
