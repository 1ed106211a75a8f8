import { randomBytes, randomInt } from 'node:crypto';

/**
 * Identifier formats copied from real Instagram Messaging traffic (Meta's documented formats).
 * IDs are always strings: several of them exceed 2^53, which is exactly what igdm must survive.
 */

function digits(count: number): string {
  let out = '';
  while (out.length < count) out += randomInt(0, 1_000_000_000).toString().padStart(9, '0');
  return out.slice(0, count);
}

/** Meta's URL-safe-ish escaping of base64 inside mids and conversation ids. */
export function metaEscapeBase64(b64: string): string {
  return b64.replace(/Z/g, 'ZA').replace(/=/g, 'ZD');
}

export function metaUnescapeBase64(escaped: string): string {
  // Must unescape in one pass: 'ZAD' is 'Z' + 'D', not 'Z' + '='.
  return escaped.replace(/Z([AD])/g, (_m, c: string) => (c === 'A' ? 'Z' : '='));
}

/** 17-digit business (IG professional) account id starting 1784, always odd so that it is not
 * representable as a double: a client that parses it with JSON.parse gets a different number. */
export function newBusinessIgId(): string {
  const odd = String(randomInt(0, 5) * 2 + 1);
  return `1784${digits(12)}${odd}`;
}

/** App-scoped user id returned as `id` by GET /me: deliberately a different number from user_id. */
export function newAppScopedId(): string {
  return `2${digits(15)}${String(randomInt(0, 5) * 2 + 1)}`;
}

/** Instagram-scoped user id (IGSID): 15–17 digits in real traffic; we use 16. */
export function newIgsid(): string {
  return `${randomInt(1, 10)}${digits(15)}`;
}

export function newCommentId(): string {
  return `1789${digits(13)}`;
}

export function newMediaId(): string {
  return `1800${digits(13)}`;
}

/** 39-digit thread id as embedded in mids (close to 2^128 in real traffic). */
export function newThreadId(): string {
  return `340282366${digits(30)}`;
}

let itemCounter = randomInt(0, 1_000_000);
const itemBase = `71342${digits(8)}`;

/** 19-digit per-message item id; increasing within one process so mids sort like Meta's. */
export function newItemId(): string {
  itemCounter += 1;
  return `${itemBase}${String(itemCounter).padStart(6, '0')}`;
}

export function encodeMid(businessIgId: string, threadId: string, itemId: string): string {
  const raw = `ig_dm_item:1:IGMessageID:${businessIgId}:${threadId}:${itemId}`;
  return metaEscapeBase64(Buffer.from(raw, 'utf8').toString('base64'));
}

export function encodeConversationId(businessIgId: string, threadId: string): string {
  const raw = `ig_dm:1:IGMessageThread:${businessIgId}:${threadId}`;
  return metaEscapeBase64(Buffer.from(raw, 'utf8').toString('base64'));
}

export interface DecodedMid {
  businessIgId: string;
  threadId: string;
  itemId: string;
}

/** Decodes a Meta mid; returns undefined for anything that is not an `ig_dm_item` id. */
export function decodeMid(mid: string): DecodedMid | undefined {
  const raw = decodeMetaBase64(mid);
  const m = raw && /^ig_dm_item:1:IGMessageID:(\d+):(\d+):(\d+)$/.exec(raw);
  return m ? { businessIgId: m[1], threadId: m[2], itemId: m[3] } : undefined;
}

export interface DecodedConversationId {
  businessIgId: string;
  threadId: string;
}

export function decodeConversationId(id: string): DecodedConversationId | undefined {
  const raw = decodeMetaBase64(id);
  const m = raw && /^ig_dm:1:IGMessageThread:(\d+):(\d+)$/.exec(raw);
  return m ? { businessIgId: m[1], threadId: m[2] } : undefined;
}

function decodeMetaBase64(value: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+$/.test(value) || value.length < 16) return undefined;
  return Buffer.from(metaUnescapeBase64(value), 'base64').toString('utf8');
}

/** Instagram User access tokens start with IGAA in practice. */
export function newAccessToken(): string {
  return `IGAA${randomBytes(96).toString('base64url').replace(/[-_]/g, '')}`;
}

/** OAuth codes look like `AQ…` base64url strings. */
export function newAuthCode(): string {
  return `AQ${randomBytes(150).toString('base64url')}`;
}

export function newFbtraceId(): string {
  return randomBytes(8).toString('base64url').replace(/[-_]/g, 'x').slice(0, 11);
}

export function newAssetId(): string {
  return `1800${digits(13)}`;
}

export function randomDigits(count: number): string {
  return digits(count);
}
