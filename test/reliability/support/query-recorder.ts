/**
 * Opt-in query recorder for the e2e suite: with IGDM_QUERY_LOG=<file>, createTestApp installs a
 * mongoose debug hook that appends one JSON line per distinct query shape (collection, filter
 * fields, sort) and where it came from (first frame in src/ or test/), plus the indexes every
 * model declares. The index check (index-check.ts) reads the file after the suite.
 */
import { appendFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import mongoose from 'mongoose';
import { normaliseSort, shapeKey, shapeOf, type IndexKeys, type QueryShape } from './query-shape';

const ROOT = resolve(__dirname, '..', '..', '..');

export interface RecordedQuery {
  type: 'query';
  shape: QueryShape;
  /** `src/dms/dms.service.ts:120`, `test/…`, or `unknown` (no project frame in the stack). */
  origin: string;
}
export interface RecordedIndexes {
  type: 'indexes';
  collection: string;
  model: string;
  indexes: IndexKeys[];
}
export type RecordedLine = RecordedQuery | RecordedIndexes;

let installedFor: string | undefined;

function originOf(stack: string | undefined): string {
  let testFrame: string | undefined;
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /\(?([^\s()]+\.ts):(\d+):\d+\)?$/.exec(line.trim());
    if (!m) continue;
    const file = relative(ROOT, m[1]);
    if (file.startsWith('node_modules') || file.includes('/node_modules/')) continue;
    if (file.startsWith('test/reliability/support/')) continue;
    if (file.startsWith('src/')) return `${file}:${m[2]}`;
    if (file.startsWith('test/') || file.startsWith('scripts/')) testFrame ??= `${file}:${m[2]}`;
  }
  return testFrame ?? 'unknown';
}

interface DebugThis {
  conn?: { models?: Record<string, mongoose.Model<unknown>> };
}

/** Installs the hook once per process; a second call with the same file is a no-op. */
export function installQueryRecorder(file: string): void {
  if (installedFor === file) return;
  installedFor = file;
  const seen = new Set<string>();
  const seenModels = new Set<string>();
  const write = (line: RecordedLine) => appendFileSync(file, `${JSON.stringify(line)}\n`);

  mongoose.set('debug', function (this: DebugThis, collection: string, op: string, ...args) {
    try {
      for (const [name, model] of Object.entries(this?.conn?.models ?? {})) {
        const key = `${model.collection.collectionName}|${name}`;
        if (seenModels.has(key)) continue;
        seenModels.add(key);
        write({
          type: 'indexes',
          collection: model.collection.collectionName,
          model: name,
          indexes: model.schema.indexes().map(([keys]) => normaliseSort(keys)),
        });
      }
      const shapes = shapeOf(collection, op, args);
      if (shapes.length === 0) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const origin = originOf(new Error().stack);
      Error.stackTraceLimit = limit;
      for (const shape of shapes) {
        const key = `${shapeKey(shape)}${shape.idLookup ? '#id' : ''}@${origin}`;
        if (seen.has(key)) continue;
        seen.add(key);
        write({ type: 'query', shape, origin });
      }
    } catch {
      // Recording must never change what the app does.
    }
  });
}
