/**
 * Keys of the `instagram_dm_ids` ledger. A message is stored once **per account**: when two
 * accounts connected to igdm talk to each other, Meta gives both sides the same mid, and each
 * side is its own tenant's message. So every key starts with the account id (24 hex characters,
 * never containing `:`), then the mid, then, for a marker, what it claims.
 *
 * | key                                | what it is                                           |
 * |------------------------------------|------------------------------------------------------|
 * | `<account>:<mid>`                  | the entry: the DM's id, or events waiting for it     |
 * | `<account>:<mid>#unread`           | the unread +1 was counted, when the entry's creator  |
 * |                                    | did not count it (`unread_counted` on the entry)     |
 * | `<account>:<mid>#claim`            | who sets `dm_id` on an entry that events created     |
 * | `<account>:<comment>#private_reply`| the comment's one private reply was claimed          |
 *
 * Written only by insert (insert-once on `_id` is atomic on every MongoDB-wire server) or by
 * `_id`; read only by `_id`, the one lookup FerretDB serves without a scan.
 */
export type LedgerMarker = 'unread' | 'claim' | 'private_reply';

export function ledgerKey(accountId: string, mid: string): string {
  return `${accountId}:${mid}`;
}

export function markerKey(accountId: string, id: string, marker: LedgerMarker): string {
  return `${ledgerKey(accountId, id)}#${marker}`;
}

/** The mid of a ledger entry's key (`<account>:<mid>`). */
export function midOfKey(key: string): string {
  return key.slice(key.indexOf(':') + 1);
}

/** Keys written before the ledger was per account: a bare mid, or `<mid>#<marker>`. */
export const PER_ACCOUNT_KEY = /^[0-9a-f]{24}:/;
