import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

/**
 * The database igdm runs on when no DATABASE_URL is given (development, tests, benchmarks):
 * a real mongod through mongodb-memory-server-core when a binary can be had, otherwise
 * FerretDB v1 on SQLite, built once from tools/ferretdb with the machine's Go.
 * Framework-free on purpose: jest's globalSetup and the benchmarks use it outside Nest.
 */
export interface EmbeddedDatabase {
  kind: 'mongod' | 'ferretdb';
  uri: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** Where the data lives; a persistent folder keeps DMs across restarts. */
  dataDir: string;
  /** Project root (tools/ferretdb and .cache/ are found from it). */
  rootDir?: string;
  /** Progress lines for a human: the first FerretDB build takes a minute. */
  log?: (line: string) => void;
  /** Skip the mongod attempt (IGDM_EMBEDDED_DB=ferretdb does the same). */
  preferFerretDb?: boolean;
}

const execFileAsync = promisify(execFile);
const START_TIMEOUT_MS = 30_000;
const BUILD_PROGRESS_EVERY_MS = 10_000;

export function projectRoot(): string {
  // src/database or dist/database → two levels up; scripts resolve the same way.
  let dir = resolve(__dirname);
  while (!existsSync(join(dir, 'package.json')) && dir !== resolve(dir, '..'))
    dir = resolve(dir, '..');
  return dir;
}

export async function startEmbeddedDatabase(
  options: EmbeddedDatabaseOptions,
): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const rootDir = options.rootDir ?? projectRoot();
  const problems: string[] = [];

  if (!options.preferFerretDb && process.env.IGDM_EMBEDDED_DB !== 'ferretdb') {
    try {
      return await startMongod(join(options.dataDir, 'mongod'), log);
    } catch (error) {
      problems.push(`mongod: ${firstLine(error)}`);
      log('embedded database: no mongod binary available here; using FerretDB (SQLite) instead');
    }
  }
  try {
    return await startFerretDb(rootDir, join(options.dataDir, 'ferretdb'), log);
  } catch (error) {
    problems.push(`ferretdb: ${firstLine(error)}`);
  }
  throw new Error(
    `No embedded database could start (${problems.join('; ')}). ` +
      'Set DATABASE_URL to a MongoDB 4.4+ server, or install Go 1.22+ so FerretDB can be built ' +
      '(or a mongod binary, with MONGOMS_SYSTEM_BINARY pointing at it).',
  );
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}

async function startMongod(dbPath: string, log: (line: string) => void): Promise<EmbeddedDatabase> {
  // Loaded lazily: its import is not free and most machines here take the FerretDB path.
  const { MongoBinary, MongoMemoryServer } = await import('mongodb-memory-server-core');
  const { setDefaultValue, ResolveConfigVariables } =
    await import('mongodb-memory-server-core/lib/util/resolveConfig');
  // One download attempt, not several with back-off: a machine without internet should fall
  // through to FerretDB at once. MONGOMS_MAX_RETRIES still overrides this.
  setDefaultValue(ResolveConfigVariables.MAX_RETRIES, '0');
  // Resolving the binary first (cache, system binary, MONGOMS_*, or a download) fails quietly;
  // MongoMemoryServer.create would print a stack trace to the console instead.
  await MongoBinary.getPath();
  mkdirSync(dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({
    instance: { dbPath, storageEngine: 'wiredTiger', ip: '127.0.0.1' },
  });
  log(`embedded database: mongod (mongodb-memory-server) at ${server.getUri()} data=${dbPath}`);
  return {
    kind: 'mongod',
    uri: server.getUri(),
    dataDir: dbPath,
    stop: async () => {
      await server.stop({ doCleanup: false });
    },
  };
}

/** The binary's name carries a hash of its sources, so an edited main.go gets rebuilt. */
export function ferretDbBinaryPath(rootDir: string): string {
  const sourceDir = join(rootDir, 'tools', 'ferretdb');
  const hash = createHash('sha256');
  for (const file of ['main.go', 'go.mod', 'go.sum'])
    hash.update(readFileSync(join(sourceDir, file)));
  return join(
    rootDir,
    '.cache',
    'ferretdb',
    `ferretdb-embedded-${hash.digest('hex').slice(0, 12)}`,
  );
}

export async function buildFerretDb(rootDir: string, log: (line: string) => void): Promise<string> {
  const binary = ferretDbBinaryPath(rootDir);
  if (existsSync(binary)) return binary;
  log(
    'embedded database: building FerretDB v1.24 with Go into .cache/ferretdb ' +
      '(normal on the first run only: about a minute, with Go modules downloaded once)...',
  );
  const started = Date.now();
  // A newcomer must see that a long first start is working, not hung.
  const ticker = setInterval(
    () =>
      log(
        `embedded database: still building FerretDB (${Math.round((Date.now() - started) / 1000)} s)...`,
      ),
    BUILD_PROGRESS_EVERY_MS,
  );
  mkdirSync(join(rootDir, '.cache', 'ferretdb'), { recursive: true });
  const partial = `${binary}.partial-${process.pid}`;
  try {
    await execFileAsync('go', ['build', '-trimpath', '-o', partial, '.'], {
      cwd: join(rootDir, 'tools', 'ferretdb'),
      env: { ...process.env, CGO_ENABLED: '0' },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(
      `go build failed: ${firstLine(error)} ${stderr.split('\n').slice(0, 3).join(' ')}`,
    );
  } finally {
    clearInterval(ticker);
  }
  // Renaming is atomic, so parallel first starts never run a half-written binary.
  renameSync(partial, binary);
  log(
    `embedded database: FerretDB built in ${((Date.now() - started) / 1000).toFixed(1)} s → ${binary}`,
  );
  return binary;
}

async function startFerretDb(
  rootDir: string,
  dataDir: string,
  log: (line: string) => void,
): Promise<EmbeddedDatabase> {
  const binary = await buildFerretDb(rootDir, log);
  mkdirSync(dataDir, { recursive: true });
  // stdin is a pipe only so that FerretDB sees it close if this process dies by SIGKILL.
  const child = spawn(binary, ['-data', dataDir, '-exit-with-parent'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const uri = await waitForReady(child);
  log(`embedded database: FerretDB v1 (SQLite) at ${uri} data=${dataDir}`);
  return {
    kind: 'ferretdb',
    uri,
    dataDir,
    stop: () => stopChild(child),
  };
}

function waitForReady(child: ChildProcess): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `FerretDB did not start within ${START_TIMEOUT_MS / 1000} s: ${stderr.slice(0, 300)}`,
        ),
      );
    }, START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('READY ')) {
        clearTimeout(timer);
        resolvePromise(line.slice('READY '.length).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`FerretDB exited with code ${code}: ${stderr.slice(0, 300)}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}
