import { isIP } from 'node:net';

/** The address ranges express (proxy-addr) knows by name. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** More hops than any real chain of proxies: a bigger number is a typo, not a deployment. */
export const MAX_PROXY_HOPS = 10;

export const TRUST_PROXY_RULE = `must be a hop count (0-${MAX_PROXY_HOPS}) or a comma-separated list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal`;

function isProxyAddress(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY as express' `trust proxy` setting, or undefined when malformed. `true` (trust every
 * hop) is refused on purpose: the client's own X-Forwarded-For would then name the client, so
 * anyone could pick the address the rate limits count.
 */
export function parseTrustProxy(raw: string): number | string[] | undefined {
  const value = raw.trim().toLowerCase();
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return hops <= MAX_PROXY_HOPS ? hops : undefined;
  }
  const entries = value.split(',').map((entry) => entry.trim());
  return entries.every(isProxyAddress) ? entries : undefined;
}
