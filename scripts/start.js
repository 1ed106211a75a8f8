#!/usr/bin/env node
/* eslint-disable */
'use strict';
/**
 * `npm start`: run igdm from dist/, compiling first only when dist/ does not match the sources.
 *
 * Why a fingerprint instead of `nest start`: `nest start` deletes dist/ and recompiles on every
 * start (13 s here), and any build cache kept outside dist/ can tell the compiler that nothing
 * changed while dist/ is gone, which left a restarted service with no dist/main.js at all.
 * Here dist/ is trusted only when it holds the fingerprint of exactly the inputs it was built
 * from, written after a build that finished: a start after Ctrl-C, a crash, a SIGKILL in the
 * middle of a build or a `git pull` compiles again, an unchanged tree starts in about a second.
 *
 * Plain JavaScript on purpose: it must run before anything is compiled.
 */
const { spawn } = require('node:child_process');
const { createHash } = require('node:crypto');
const { existsSync, readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const dist = join(root, 'dist');
const entry = join(dist, 'main.js');
const stampFile = join(dist, '.build-fingerprint');
/** Everything `nest build` reads besides src/. */
const BUILD_INPUTS = ['package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];

function sourceFiles(dir) {
  const files = [];
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, item.name);
    if (item.isDirectory()) files.push(...sourceFiles(path));
    else if (item.name.endsWith('.ts') && !item.name.endsWith('.spec.ts')) files.push(path);
  }
  return files;
}

function fingerprint() {
  const hash = createHash('sha256');
  const files = [...BUILD_INPUTS.map((f) => join(root, f)), ...sourceFiles(join(root, 'src'))];
  for (const file of files.sort()) {
    hash.update(relative(root, file)).update('\0');
    hash.update(existsSync(file) ? readFileSync(file) : '').update('\0');
  }
  return hash.digest('hex');
}

function say(line) {
  process.stdout.write(`igdm: ${line}\n`);
}

async function build(wanted) {
  say(
    existsSync(entry)
      ? 'sources changed since the last build: compiling (about 15 s)...'
      : 'compiling the TypeScript sources into dist/ (about 15 s, only when they change)...',
  );
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(0);
  const ticker = setInterval(() => say(`still compiling (${seconds()} s)...`), 10_000);
  const cli = join(root, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  const child = spawn(process.execPath, [cli, 'build'], { cwd: root, stdio: 'inherit' });
  const [code, signal] = await new Promise((done) => child.once('exit', (...end) => done(end)));
  clearInterval(ticker);
  if (code !== 0 || !existsSync(entry)) {
    say(`the build failed (${signal ?? `exit code ${code}`}); nothing was started`);
    process.exit(code || 1);
  }
  writeFileSync(stampFile, wanted);
  say(`compiled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function main() {
  const wanted = fingerprint();
  const built = existsSync(entry) && existsSync(stampFile) ? readFileSync(stampFile, 'utf8') : '';
  if (built !== wanted) await build(wanted);
  require(entry);
}

main();
