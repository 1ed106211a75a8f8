import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { metaStringify } from './serialize';

/**
 * Signs and POSTs webhook deliveries like Meta: exact-bytes HMAC, Meta's headers, a per-attempt
 * timeout and a retry schedule. Every attempt is recorded with the receiver's answer.
 */

export interface DeliveryAttempt {
  at: number;
  status?: number;
  ms: number;
  error?: string;
  /** First 2 KB of the receiver's reply. */
  responseBody?: string;
}

export type DeliveryStatus =
  'pending' | 'retrying' | 'delivered' | 'failed' | 'dropped' | 'skipped';

export interface DeliveryRecord {
  id: string;
  kind: string;
  url?: string;
  /** Exact bytes sent (as a string). */
  body: string;
  /** `X-Hub-Signature-256` header value. */
  signature: string;
  /** `X-Hub-Signature` (legacy sha1) header value. */
  signatureSha1: string;
  /** `entry[].id` values, for filtering. */
  entryIds: string[];
  attempts: DeliveryAttempt[];
  delivered: boolean;
  status: DeliveryStatus;
  /** Why a delivery was never sent (dropped by the switch, account not subscribed, no URL). */
  reason?: string;
  createdAt: number;
}

export type WaitMode = 'final' | 'first-attempt' | 'none';

export interface DispatchOptions {
  kind?: string;
  /** Override the simulator's webhook URL for this delivery. */
  url?: string;
  /** Override the signing secret (e.g. to test a receiver that must reject it). */
  secret?: string;
  /** Record without sending (subscription gating). */
  skipReason?: string;
  /** Default true: retry per the schedule when the receiver fails. */
  retry?: boolean;
  /** Fill this pre-created record (batch() hands it out before the body exists). */
  shell?: DeliveryRecord;
}

export interface DispatcherOptions {
  secret: string;
  url: () => string | undefined;
  timeoutMs: number;
  retryDelaysMs: number[];
  /** Default false: Meta documents `200 OK` as success; other 2xx are treated as failures. */
  accept2xx: boolean;
  onExhausted?: (rec: DeliveryRecord) => void;
}

export interface DropRule {
  remaining: number;
  predicate?: (rec: DeliveryRecord) => boolean;
}

export function signBody(body: string, secret: string): { sha256: string; sha1: string } {
  return {
    sha256: `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`,
    sha1: `sha1=${createHmac('sha1', secret).update(body, 'utf8').digest('hex')}`,
  };
}

export interface PostResult {
  status?: number;
  body?: string;
  error?: string;
  ms: number;
}

/** POSTs one signed body with Meta's headers; never throws. */
export function postSigned(
  url: string,
  body: string,
  sig: { sha256: string; sha1: string },
  timeoutMs: number,
  agent?: http.Agent,
): { promise: Promise<PostResult>; abort: () => void } {
  const started = performance.now();
  let req: http.ClientRequest | undefined;
  const promise = new Promise<PostResult>((resolve) => {
    const done = (r: Omit<PostResult, 'ms'>): void =>
      resolve({ ...r, ms: Math.round((performance.now() - started) * 10) / 10 });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      done({ error: 'invalid webhook URL' });
      return;
    }
    const lib = target.protocol === 'https:' ? https : http;
    const buf = Buffer.from(body, 'utf8');
    req = lib.request(
      target,
      {
        method: 'POST',
        agent,
        headers: {
          Accept: '*/*',
          'Accept-Encoding': 'deflate, gzip',
          'Content-Type': 'application/json',
          'Content-Length': String(buf.length),
          'User-Agent': 'facebookexternalua',
          'X-Hub-Signature': sig.sha1,
          'X-Hub-Signature-256': sig.sha256,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 2048) chunks.push(c);
          size += c.length;
        });
        res.on('end', () =>
          done({
            status: res.statusCode,
            body: Buffer.concat(chunks).toString('utf8').slice(0, 2048),
          }),
        );
        res.on('error', (e) => done({ status: res.statusCode, error: e.message }));
      },
    );
    req.setTimeout(timeoutMs, () => req?.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (e) => done({ error: e.message }));
    req.end(buf);
  });
  return { promise, abort: () => req?.destroy(new Error('aborted')) };
}

export class WebhookDispatcher {
  readonly records: DeliveryRecord[] = [];
  private readonly settled = new Map<string, Promise<DeliveryRecord>>();
  private readonly firstAttempt = new Map<string, Promise<DeliveryRecord>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<() => void>();
  private readonly finishers = new Map<string, (status: DeliveryStatus, reason?: string) => void>();
  private dropRules: DropRule[] = [];
  private closed = false;

  constructor(private readonly opts: DispatcherOptions) {}

  setSecret(secret: string): void {
    this.opts.secret = secret;
  }

  addDropRule(rule: DropRule): DropRule {
    this.dropRules.push(rule);
    return rule;
  }

  removeDropRule(rule: DropRule): void {
    this.dropRules = this.dropRules.filter((r) => r !== rule);
  }

  clearDropRules(): void {
    this.dropRules = [];
  }

  /** An empty pending record, filled later by dispatch({ shell }). */
  shell(kind: string): DeliveryRecord {
    return {
      id: randomUUID(),
      kind,
      body: '',
      signature: '',
      signatureSha1: '',
      entryIds: [],
      attempts: [],
      delivered: false,
      status: 'pending',
      createdAt: Date.now(),
    };
  }

  /** Serialises (if needed), signs and schedules a delivery. */
  dispatch(body: string | object, opts: DispatchOptions = {}): DeliveryRecord {
    const text = typeof body === 'string' ? body : metaStringify(body);
    const sig = signBody(text, opts.secret ?? this.opts.secret);
    const rec: DeliveryRecord = Object.assign(opts.shell ?? this.shell(opts.kind ?? 'custom'), {
      kind: opts.kind ?? 'custom',
      url: opts.url ?? this.opts.url(),
      body: text,
      signature: sig.sha256,
      signatureSha1: sig.sha1,
      entryIds: entryIdsOf(text),
      createdAt: Date.now(),
    });
    this.records.push(rec);

    let resolveFirst!: (r: DeliveryRecord) => void;
    this.firstAttempt.set(rec.id, new Promise((r) => (resolveFirst = r)));
    let resolveFinal!: (r: DeliveryRecord) => void;
    this.settled.set(rec.id, new Promise((r) => (resolveFinal = r)));
    const finish = (status: DeliveryStatus, reason?: string): void => {
      if (!this.finishers.delete(rec.id)) return;
      rec.status = status;
      if (reason) rec.reason = reason;
      resolveFirst(rec);
      resolveFinal(rec);
    };
    this.finishers.set(rec.id, finish);

    if (opts.skipReason) {
      finish('skipped', opts.skipReason);
      return rec;
    }
    const rule = this.dropRules.find((r) => r.remaining > 0 && (!r.predicate || r.predicate(rec)));
    if (rule) {
      rule.remaining -= 1;
      finish('dropped', 'dropped by dropDeliveries()');
      return rec;
    }
    if (!rec.url) {
      finish('failed', 'no webhook URL configured');
      return rec;
    }

    const delays = opts.retry === false ? [] : this.opts.retryDelaysMs;
    const attempt = async (n: number): Promise<void> => {
      if (this.closed) return finish('failed', 'simulator closed');
      const call = postSigned(rec.url ?? '', text, sig, this.opts.timeoutMs);
      this.inflight.add(call.abort);
      const r = await call.promise;
      this.inflight.delete(call.abort);
      const ok = r.status === 200 || (this.opts.accept2xx && !!r.status && r.status < 300);
      rec.attempts.push({
        at: Date.now(),
        status: r.status,
        ms: r.ms,
        error: r.error ?? (ok ? undefined : `HTTP ${r.status ?? '?'}`),
        responseBody: r.body,
      });
      if (ok) {
        rec.delivered = true;
        return finish('delivered');
      }
      if (n >= delays.length || this.closed) {
        finish('failed', 'retries exhausted');
        this.opts.onExhausted?.(rec);
        return;
      }
      rec.status = 'retrying';
      resolveFirst(rec);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void attempt(n + 1);
      }, delays[n]);
      this.timers.add(timer);
    };
    void attempt(0);
    return rec;
  }

  wait(rec: DeliveryRecord, mode: WaitMode): Promise<DeliveryRecord> {
    if (mode === 'none') return Promise.resolve(rec);
    const p = (mode === 'final' ? this.settled : this.firstAttempt).get(rec.id);
    return p ?? Promise.resolve(rec);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const abort of this.inflight) abort();
    // Anything still waiting on a retry is settled as failed so awaiting callers finish.
    for (const finish of [...this.finishers.values()]) finish('failed', 'simulator closed');
  }
}

function entryIdsOf(body: string): string[] {
  try {
    const parsed = JSON.parse(body) as { entry?: Array<{ id?: unknown }> };
    return (parsed.entry ?? []).map((e) => String(e.id));
  } catch {
    return [];
  }
}
