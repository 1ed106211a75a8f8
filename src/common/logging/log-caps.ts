/**
 * Log lines carry ids, and many ids come from the outside (a mid, a comment id, a webhook entry
 * id, a query value): a hostile sender picks their length. Every string a log line carries is cut
 * here, whoever wrote the call, so no line holds kilobytes of someone else's payload.
 */
export const MAX_LOGGED_STRING = 200;
const MAX_LOGGED_ITEMS = 20;
const MAX_LOGGED_DEPTH = 4;

export function capString(value: string): string {
  return value.length <= MAX_LOGGED_STRING
    ? value
    : `${value.slice(0, MAX_LOGGED_STRING)}…[${value.length - MAX_LOGGED_STRING} more chars]`;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Plain objects and arrays are walked; anything else (errors, requests) has its serializer. */
export function capLogged(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return capString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    if (depth >= MAX_LOGGED_DEPTH) return `[array of ${value.length}]`;
    const items = value.slice(0, MAX_LOGGED_ITEMS).map((item) => capLogged(item, depth + 1));
    if (value.length > MAX_LOGGED_ITEMS) items.push(`…[${value.length - MAX_LOGGED_ITEMS} more]`);
    return items;
  }
  if (!isPlainObject(value)) return value;
  if (depth >= MAX_LOGGED_DEPTH) return '[object]';
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[capString(key)] = capLogged(item, depth + 1);
  return out;
}
