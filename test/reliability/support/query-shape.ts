/**
 * The shape of a MongoDB query (which fields a filter uses and how, and its sort) and the rule that
 * says whether a declared index serves it (equality, then sort, then range). Pure functions: the
 * query recorder (query-recorder.ts) writes shapes, the index check (index-check.ts) judges them.
 */

/** How a filter uses a field. eq: equality or $in (index prefix); range: bounds an index scan. */
export type FieldKind = 'eq' | 'range' | 'residual';

export interface FieldUse {
  field: string;
  kind: FieldKind;
}

export type SortSpec = [string, 1 | -1][];

export interface QueryShape {
  collection: string;
  op: string;
  /** Fields of the filter outside any $or (an $and is flattened into them). */
  fields: FieldUse[];
  /** Branches of a top-level $or, each flattened; empty when there is none. */
  or: FieldUse[][];
  sort: SortSpec;
  /**
   * The filter is `{ _id: <value> }` and nothing else: the one filter FerretDB v1 answers from an
   * index (anything more, `_id: { $in }` included, reads the whole collection).
   */
  idLookup?: boolean;
}

function isIdLookup(filter: unknown): boolean {
  if (!isPlainObject(filter)) return false;
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== '_id') return false;
  const id = filter._id;
  return typeof id === 'string' || (typeof id === 'object' && id !== null && !isPlainObject(id));
}

export type IndexKeys = SortSpec;

const RANGE_OPS = new Set(['$gt', '$gte', '$lt', '$lte']);
const EQ_OPS = new Set(['$eq', '$in', '$elemMatch', '$all']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function classify(value: unknown): FieldKind {
  if (!isPlainObject(value)) return 'eq'; // scalar, ObjectId, Date, array: exact match
  const ops = Object.keys(value);
  if (ops.length === 0 || !ops.every((k) => k.startsWith('$'))) return 'eq'; // exact sub-document
  if (ops.some((k) => EQ_OPS.has(k))) return 'eq';
  if (ops.some((k) => RANGE_OPS.has(k))) return 'range';
  if (ops.includes('$exists') && value.$exists === true) return 'range';
  if (ops.includes('$regex') && typeof value.$regex === 'string' && value.$regex.startsWith('^'))
    return 'range';
  return 'residual'; // $ne, $nin, $not, $exists: false, unanchored $regex, $type, $size
}

function flatten(filter: unknown, out: FieldUse[], or: FieldUse[][]): void {
  if (!isPlainObject(filter)) return;
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const sub of value) flatten(sub, out, or);
    } else if (key === '$or' && Array.isArray(value)) {
      if (or.length > 0) {
        // A second $or (inside $and): keep the first for branch checks, the rest are residual.
        for (const sub of value as unknown[]) {
          const branch: FieldUse[] = [];
          flatten(sub, branch, []);
          for (const f of branch) out.push({ field: f.field, kind: 'residual' });
        }
        continue;
      }
      for (const sub of value as unknown[]) {
        const branch: FieldUse[] = [];
        flatten(sub, branch, []);
        or.push(branch);
      }
    } else if (key.startsWith('$')) {
      out.push({ field: key, kind: 'residual' }); // $nor, $expr, $where, $text, $comment
    } else {
      out.push({ field: key, kind: classify(value) });
    }
  }
}

export function normaliseSort(sort: unknown): SortSpec {
  if (!sort) return [];
  const dir = (v: unknown): 1 | -1 =>
    v === -1 || v === 'desc' || v === 'descending' || v === '-1' ? -1 : 1;
  if (sort instanceof Map) return [...sort.entries()].map(([k, v]) => [String(k), dir(v)]);
  if (Array.isArray(sort)) {
    if (sort.length === 2 && typeof sort[0] === 'string' && !Array.isArray(sort[1]))
      return [[sort[0], dir(sort[1])]];
    return sort.map<SortSpec[number]>((s) =>
      Array.isArray(s) ? [String(s[0]), dir(s[1])] : [String(s), 1],
    );
  }
  if (typeof sort === 'string')
    return sort
      .split(/\s+/)
      .filter(Boolean)
      .map((s) => (s.startsWith('-') ? [s.slice(1), -1] : [s, 1]));
  if (typeof sort === 'object')
    return Object.entries(sort as Record<string, unknown>).map(([k, v]) => [k, dir(v)]);
  return [];
}

/** A query's shape from the arguments mongoose passes to a collection method; null: not a query. */
export function shapeOf(collection: string, op: string, args: unknown[]): QueryShape[] {
  const one = (filter: unknown, sort: unknown, name = op): QueryShape => {
    const fields: FieldUse[] = [];
    const or: FieldUse[][] = [];
    flatten(filter, fields, or);
    return {
      collection,
      op: name,
      fields,
      or,
      sort: normaliseSort(sort),
      ...(isIdLookup(filter) ? { idLookup: true } : {}),
    };
  };
  const opts = (i: number) => (isPlainObject(args[i]) ? args[i] : {});
  switch (op) {
    case 'find':
    case 'findOne':
    case 'findOneAndUpdate':
    case 'findOneAndReplace':
    case 'findOneAndDelete':
      return [one(args[0], opts(op === 'find' || op === 'findOne' ? 1 : 2).sort)];
    case 'updateOne':
    case 'updateMany':
    case 'replaceOne':
    case 'deleteOne':
    case 'deleteMany':
    case 'countDocuments':
    case 'count':
      return [one(args[0], undefined)];
    case 'distinct':
      return [one(args[1], undefined)];
    case 'aggregate': {
      const pipeline = Array.isArray(args[0]) ? (args[0] as Record<string, unknown>[]) : [];
      const match = pipeline[0]?.$match;
      const sortStage = pipeline.find((s) => s && '$sort' in s)?.$sort;
      return [one(match ?? {}, match && pipeline[1]?.$sort ? sortStage : undefined)];
    }
    case 'bulkWrite': {
      const ops = Array.isArray(args[0])
        ? (args[0] as Record<string, Record<string, unknown>>[])
        : [];
      const out: QueryShape[] = [];
      for (const o of ops) {
        const [kind, spec] = Object.entries(o)[0] ?? [];
        if (!kind || kind === 'insertOne' || !isPlainObject(spec)) continue;
        out.push(one(spec.filter, undefined, `bulkWrite.${kind}`));
      }
      return out;
    }
    default:
      return [];
  }
}

export function shapeKey(s: QueryShape): string {
  const f = (list: FieldUse[]) =>
    list
      .map((u) => `${u.field}:${u.kind}`)
      .sort()
      .join(',');
  return `${s.collection}|${s.op}|${f(s.fields)}|${s.or.map(f).join(' OR ')}|${s.sort
    .map(([k, d]) => `${k}:${d}`)
    .join(',')}`;
}

export interface Verdict {
  served: boolean;
  /** The index that serves it, as `{a:1,b:-1}`. */
  index?: string;
  why?: string;
}

export function indexName(keys: IndexKeys): string {
  return `{${keys.map(([k, d]) => `${k}:${d}`).join(',')}}`;
}

/**
 * Does this index serve the query? Equality fields (any order) lead the index, the sort follows
 * (same or fully reversed directions; sort keys bound by equality are dropped), and the scan is
 * bounded: by the equality prefix, by a range on the next key, or by the sort itself.
 * Fields outside the index are allowed as a residual filter on the documents the index selects.
 */
function servedBy(fields: FieldUse[], sort: SortSpec, index: IndexKeys): boolean {
  const eq = new Set(fields.filter((f) => f.kind === 'eq').map((f) => f.field));
  const range = new Set(fields.filter((f) => f.kind === 'range').map((f) => f.field));
  let i = 0;
  while (i < index.length && eq.has(index[i][0])) i++;
  const prefix = i;
  const bound = new Set(index.slice(0, prefix).map(([k]) => k));
  const wanted = sort.filter(([k]) => !bound.has(k) && !eq.has(k));
  if (wanted.length > 0) {
    let direction = 0;
    for (const [k, d] of wanted) {
      if (i >= index.length || index[i][0] !== k) return false;
      const same = index[i][1] === d ? 1 : -1;
      if (direction === 0) direction = same;
      else if (direction !== same) return false;
      i++;
    }
    return true; // an index-ordered scan, bounded by the prefix when there is one
  }
  if (prefix > 0) return true;
  return index.length > 0 && range.has(index[0][0]);
}

export function judge(shape: QueryShape, indexes: IndexKeys[]): Verdict {
  const all = [[['_id', 1]] as IndexKeys, ...indexes];
  const tryAll = (fields: FieldUse[]): IndexKeys | undefined =>
    all.find((ix) => servedBy(fields, shape.sort, ix));
  if (shape.fields.length === 0 && shape.or.length === 0 && shape.sort.length === 0)
    return { served: false, why: 'no filter: a collection scan' };
  const whole = tryAll(shape.fields);
  if (whole) return { served: true, index: indexName(whole) };
  if (shape.or.length > 0) {
    // Each $or branch is its own index scan; their union is then sorted in memory (MongoDB's
    // OR + SORT plan), so branches are judged on their filter alone.
    const picked: string[] = [];
    for (const branch of shape.or) {
      const fields = [...shape.fields, ...branch];
      const ix = all.find((x) => servedBy(fields, [], x));
      if (!ix)
        return {
          served: false,
          why: `$or branch {${branch.map((b) => `${b.field}:${b.kind}`).join(',')}} has no index`,
        };
      picked.push(indexName(ix));
    }
    return { served: true, index: `$or: ${picked.join(' | ')}` };
  }
  return {
    served: false,
    why: shape.sort.length
      ? 'no index has the equality fields followed by the sort'
      : 'no index starts with a filtered field',
  };
}
