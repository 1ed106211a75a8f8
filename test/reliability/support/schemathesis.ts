/**
 * Pieces of the OpenAPI conformance run (openapi-conformance.e2e-spec.ts): schemathesis itself,
 * igdm built the way production builds it, and the real flows that give it data to work on.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../../../bench/lib';
import type { Business, MetaSimulator } from '../../../meta-simulator';
import { log } from './harness';

/** The version this suite was written against; installed into .cache when `st` is missing. */
export const SCHEMATHESIS_VERSION = '4.32.5';
const CACHE = join(ROOT, '.cache');

function version(command: string): string | undefined {
  const result = spawnSync(command, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * The `st` command: on PATH when it is schemathesis 4.x, else a venv under .cache/schemathesis
 * with the pinned version (created on first use, about a minute).
 */
export function ensureSchemathesis(): string {
  const onPath = version('st');
  if (onPath && / 4\./.test(onPath)) return 'st';
  const venv = join(CACHE, 'schemathesis');
  const st = join(venv, 'bin', 'st');
  if (!existsSync(st) || !version(st)?.includes(SCHEMATHESIS_VERSION)) {
    log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${venv}`);
    const run = (command: string, args: string[]) => {
      const result = spawnSync(command, args, { stdio: 'inherit' });
      if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
    };
    run('python3', ['-m', 'venv', venv]);
    run(join(venv, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`]);
  }
  return st;
}

/**
 * igdm compiled by `nest build`, as `npm start` and production run it: the swagger CLI plugin
 * (nest-cli.json) fills in the reply schemas of the DTOs it reads, so the document under test is
 * the one users get. Built into .cache/, leaving dist/ to `npm start`.
 */
export function buildIgdm(): string {
  const dir = join(CACHE, 'openapi-conformance');
  mkdirSync(dir, { recursive: true });
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({ extends: '../../tsconfig.build.json', compilerOptions: { outDir: './dist' } }),
  );
  const started = Date.now();
  const nestCli = join(ROOT, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  const result = spawnSync(
    process.execPath,
    // A path relative to the workspace: nest resolves it from there.
    [nestCli, 'build', '--path', relative(ROOT, tsconfig)],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (result.status !== 0)
    throw new Error(`nest build failed:\n${result.stdout}\n${result.stderr}`.slice(-4000));
  log(`igdm built with the swagger plugin in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return join(dir, 'dist', 'main.js');
}

/**
 * The OAuth connect as a browser and dashboard do it, against igdm's HTTP API: the authorize URL,
 * Instagram's consent (the simulator), the callback, and the finish with the connect ticket
 * when the callback hands one out. Returns the account id.
 */
export async function connectAccount(
  baseUrl: string,
  authorization: string,
  meta: MetaSimulator,
  biz: Business,
): Promise<string> {
  const headers = { Authorization: authorization };
  const start = await fetch(`${baseUrl}/accounts/instagram/connect`, { headers });
  if (start.status !== 200) throw new Error(`connect URL: ${start.status}`);
  const { data } = (await start.json()) as { data: { url: string } };
  meta.nextAuthorization({ business: biz });
  const consent = await fetch(data.url, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location') ?? '');
  const callback = await fetch(`${baseUrl}/accounts/instagram/callback${back.search}`, {
    redirect: 'manual',
  });
  const outcome = new URL(callback.headers.get('location') ?? '', 'http://frontend').searchParams;
  const accountId = outcome.get('account_id');
  if (accountId) return accountId;
  const ticket = outcome.get('connect_ticket');
  if (!ticket) throw new Error(`callback: ${callback.headers.get('location')}`);
  const finish = await fetch(`${baseUrl}/accounts/instagram/connect/finish`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'application/json' },
    body: JSON.stringify({ connect_ticket: ticket }),
  });
  if (finish.status !== 200) throw new Error(`connect finish: ${finish.status}`);
  return ((await finish.json()) as { data: { account_id: string } }).data.account_id;
}

export interface SchemathesisRun {
  exitCode: number | null;
  output: string;
  /** From the SUMMARY banner to the end. */
  summary: string;
}

/** `st run` with its output streamed to the log (a stuck run shows where it is). */
export function runSchemathesis(st: string, args: string[], cwd: string): Promise<SchemathesisRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(st, ['--no-color', 'run', ...args], {
      cwd,
      env: {
        ...process.env,
        NO_COLOR: '1',
        PYTHONUNBUFFERED: '1',
        SCHEMATHESIS_HOOKS: join(__dirname, 'schemathesis-hooks.py'),
      },
    });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('close', (exitCode) => {
      const at = output.lastIndexOf('SUMMARY');
      const summary = at < 0 ? output.slice(-3000) : output.slice(output.lastIndexOf('\n', at) + 1);
      resolve({ exitCode, output, summary });
    });
  });
}
