import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mongo } from 'mongoose';

export const REFERENCE_DB_DIR = join(
  __dirname,
  '..',
  '..',
  '..',
  'shared',
  'reference',
  'reference-db',
);

/** A collection as the Python service left it, in canonical Extended JSON (every BSON type kept). */
export function loadReferenceDump(collection: string): mongo.Document[] {
  return mongo.BSON.EJSON.parse(
    readFileSync(join(REFERENCE_DB_DIR, `${collection}.json`), 'utf8'),
    {
      relaxed: false,
    },
  ) as mongo.Document[];
}
