import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetaSimulator } from '../../meta-simulator';

/** What a webhook receiver saw: the raw bytes exactly as they arrived. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  text: string;
  json: any;
  at: number;
}

export type ReceiverReply = number | { status: number; body?: string; delayMs?: number };

export interface Receiver {
  url: string;
  received: Received[];
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A plain node:http receiver standing in for igdm's webhook endpoint. */
export async function startReceiver(
  reply: (r: Received, index: number) => ReceiverReply = () => 200,
): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        raw,
        text,
        json,
        at: performance.now(),
      };
      received.push(r);
      waiters.splice(0).forEach((w) => w());
      const out = reply(r, received.length - 1);
      const spec = typeof out === 'number' ? { status: out } : out;
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(spec.status, { 'content-type': 'text/plain' });
        res.end(spec.body ?? (spec.status === 200 ? 'EVENT_RECEIVED' : 'error'));
      };
      if (spec.delayMs) setTimeout(send, spec.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/instagram`,
    received,
    async waitFor(count, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} deliveries, got ${received.length}`);
        }
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return received;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export interface GraphResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface GraphCall {
  token?: string;
  /** Token as `access_token` query param instead of the Bearer header. */
  tokenInQuery?: boolean;
  query?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  signal?: AbortSignal;
}

/** Calls the simulator like igdm would; `path` is relative to graphUrl (or a full URL). */
export async function call(
  meta: MetaSimulator,
  method: string,
  path: string,
  opts: GraphCall = {},
): Promise<GraphResponse> {
  const url = new URL(path.startsWith('http') ? path : `${meta.graphUrl}${path}`);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  if (opts.token && opts.tokenInQuery) url.searchParams.set('access_token', opts.token);
  else if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  }
  const res = await fetch(url, { method, headers, body, redirect: 'manual', signal: opts.signal });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Recursive key structure (keys in order, value types) used to compare with reference payloads. */
export function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v && typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, shape(x)]);
  }
  return typeof v;
}
