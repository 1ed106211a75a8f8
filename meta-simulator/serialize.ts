/**
 * Meta's JSON encoder: compact, `/` escaped as `\/`, every non-ASCII UTF-16 code unit as a
 * lowercase `\uXXXX` (so emoji become surrogate pairs). Webhook signatures cover these exact
 * bytes, so a receiver that re-serialises a parsed body computes a different HMAC.
 */

/** A number written verbatim into the JSON text (e.g. OAuth `user_id` beyond 2^53). */
export class RawJsonNumber {
  constructor(readonly digits: string) {
    if (!/^-?\d+$/.test(digits)) throw new Error(`not an integer literal: ${digits}`);
  }
}

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | RawJsonNumber
  | JsonValue[]
  | { [key: string]: JsonValue | undefined };

export function metaEscapeString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const ch = value[i];
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '/') out += '\\/';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Serialises like Meta. Key order is the object's insertion order; `undefined` members are
 * omitted, as JSON.stringify does. */
export function metaStringify(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof RawJsonNumber) return value.digits;
  switch (typeof value) {
    case 'string':
      return metaEscapeString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? 'null' : metaStringify(v))).join(',')}]`;
      }
      const parts: string[] = [];
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === undefined || typeof v === 'function') continue;
        parts.push(`${metaEscapeString(key)}:${metaStringify(v)}`);
      }
      return `{${parts.join(',')}}`;
    }
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
  }
  return 'null';
}
