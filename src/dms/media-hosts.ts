import { isIP } from 'node:net';

/**
 * Where igdm may send a HEAD and a redirect for a DM attachment (MEDIA_HOSTS). A stored URL is
 * whatever the webhook, a Graph read or a legacy database row said, so without this list the
 * attachment route would make requests to any address it is given (link-local metadata services,
 * private hosts) on a caller's behalf.
 */

/**
 * Meta's media hosts: lookaside.fbsbx.com (webhook attachment links), the Instagram and Facebook
 * CDNs Graph reads answer with (scontent-*.cdninstagram.com, scontent*.xx.fbcdn.net), and
 * instagram.com, whose post and reel permalinks are the URLs of shared-post attachments.
 */
export const DEFAULT_MEDIA_HOSTS =
  '*.cdninstagram.com,*.fbcdn.net,lookaside.fbsbx.com,lookaside.instagram.com,instagram.com,www.instagram.com';

export const MEDIA_HOSTS_RULE =
  'must be a comma-separated list of host names, *.domain wildcards or scheme://host:port entries (http only when written out)';

export interface MediaHost {
  /** `http:` only when the entry says `http://` (the simulator's local CDN). */
  protocol: 'https:' | 'http:';
  /** Lower case, without a trailing dot. */
  host: string;
  /** `*.host`: any subdomain of `host`, not `host` itself. */
  subdomains: boolean;
  /** '' for the scheme's default port, as WHATWG URL reports it. */
  port: string;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOP_LABEL = /^([a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

/** `*.fbcdn.net`, not `*.com` (any host) nor `*.0.0.1` (which would match 127.0.0.1). */
function wildcardDomain(host: string): boolean {
  const labels = host.split('.');
  return labels.length >= 2 && labels.every((l) => LABEL.test(l)) && TOP_LABEL.test(labels.at(-1)!);
}

function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

function parseEntry(entry: string): MediaHost | undefined {
  const scheme = /^([a-z]+):\/\//i.exec(entry);
  const protocol = scheme ? `${scheme[1].toLowerCase()}:` : 'https:';
  if (protocol !== 'https:' && protocol !== 'http:') return undefined;
  const rest = scheme ? entry.slice(scheme[0].length) : entry;
  const subdomains = rest.startsWith('*.');
  let url: URL;
  try {
    url = new URL(`${protocol}//${subdomains ? rest.slice(2) : rest}`);
  } catch {
    return undefined;
  }
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/')
    return undefined;
  const host = bareHost(url.hostname);
  if (subdomains && !wildcardDomain(host)) return undefined;
  if (host === '' || host.includes('*')) return undefined;
  return { protocol, host, subdomains, port: url.port };
}

/** The MEDIA_HOSTS entries, or undefined when one of them is not of the documented form. */
export function parseMediaHosts(raw: string): MediaHost[] | undefined {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) return undefined;
  const hosts = entries.map(parseEntry);
  return hosts.every((h): h is MediaHost => h !== undefined) ? hosts : undefined;
}

/** Whether `url` may be probed and redirected to: an allowed scheme, host and port, no userinfo. */
export function isAllowedMediaUrl(url: string, allowed: readonly MediaHost[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  const host = bareHost(parsed.hostname);
  return allowed.some(
    (rule) =>
      rule.protocol === parsed.protocol &&
      rule.port === parsed.port &&
      (rule.subdomains ? isIP(host) === 0 && host.endsWith(`.${rule.host}`) : host === rule.host),
  );
}
