import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mongo } from 'mongoose';

const { EJSON } = mongo.BSON;

export const REFERENCE_DB_DIR = join(
  __dirname,
  '..',
  '..',
  '..',
  'shared',
  'reference',
  'reference-db',
);

/** One collection of the Python service's database dump, every BSON type kept (canonical EJSON). */
export function loadReferenceDump(collection: string): mongo.Document[] {
  return EJSON.parse(readFileSync(join(REFERENCE_DB_DIR, `${collection}.json`), 'utf8'), {
    relaxed: false,
  }) as mongo.Document[];
}
