import { isSafeNumber, parse } from 'lossless-json';

/**
 * Parses a Meta reply without losing digits: numbers JavaScript cannot hold exactly (ids above
 * 2^53, such as the code exchange's unquoted `user_id`) stay decimal strings; the others become
 * plain numbers. Returns undefined for anything that is not JSON.
 */
export function parseGraphJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return parse(text, null, (value: string) => (isSafeNumber(value) ? Number(value) : value));
  } catch {
    return undefined;
  }
}

/** An id Meta may send as a number or a string, as a decimal string. */
export function idString(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

/** A JSON object (not an array): what Graph replies and their nested records are. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
