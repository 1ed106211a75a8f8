import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mongo } from 'mongoose';

const { EJSON } = mongo.BSON;

/** The repo's own copy of the Python service's database dump (a user's clone has nothing beside it). */
export const REFERENCE_DIR = join(__dirname, '..', 'fixtures', 'reference');
export const REFERENCE_DB_DIR = join(REFERENCE_DIR, 'reference-db');

/** Fernet tokens made by the Python service, with the keys and plaintexts behind them. */
export const FERNET_VECTORS_FILE = join(REFERENCE_DIR, 'vectors', 'fernet-tokens.json');

/** One collection of the Python service's database dump, every BSON type kept (canonical EJSON). */
export function loadReferenceDump(collection: string): mongo.Document[] {
  return EJSON.parse(readFileSync(join(REFERENCE_DB_DIR, `${collection}.json`), 'utf8'), {
    relaxed: false,
  }) as mongo.Document[];
}

export interface FernetVectors {
  cases: { encryption_key: string; plaintext: string; fernet_token: string }[];
  wrong_key: { encryption_key: string; fernet_token: string };
}

export function loadFernetVectors(): FernetVectors {
  return JSON.parse(readFileSync(FERNET_VECTORS_FILE, 'utf8')) as FernetVectors;
}
