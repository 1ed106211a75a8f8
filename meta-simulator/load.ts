import http from 'node:http';
import https from 'node:https';
import { randomInt } from 'node:crypto';
import { envelope, messagingElement, type WebhookEvent } from './events';
import { encodeMid, newBusinessIgId, newIgsid, newItemId, newThreadId } from './ids';
import { metaStringify } from './serialize';
import { postSigned, signBody } from './webhooks';

/**
 * Bounded load of signed webhook deliveries against a receiver (igdm's webhook endpoint),
 * measuring ack latency. Deliveries carry realistic text/read events; a share of them are exact
 * re-sends of earlier bodies, as Meta's retries are.
 */

export interface LoadOptions {
  to: string;
  /** Deliveries per second. */
  rate: number;
  durationS: number;
  secret?: string;
  eventsPerDelivery?: number;
  /** Max deliveries in flight. */
  concurrency?: number;
  /** Share of deliveries that repeat an earlier body byte for byte (0–1). */
  duplicateRatio?: number;
  /** Share of events that are `read` events (0–1). */
  readRatio?: number;
  /** Business account ids for entry.id; default one fresh id. */
  accounts?: string[];
  customersPerAccount?: number;
  timeoutMs?: number;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadProgress {
  elapsedS: number;
  sent: number;
  ok: number;
  non200: number;
  errors: number;
  inflight: number;
  lastSecondRate: number;
}

export interface LoadSummary {
  to: string;
  durationMs: number;
  sent: number;
  events: number;
  duplicates: number;
  ok: number;
  non200: number;
  errors: number;
  /** Deliveries that could not start on schedule because `concurrency` was exhausted. */
  lagged: number;
  achievedRate: number;
  statusCounts: Record<string, number>;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  firstErrors: string[];
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const secret = opts.secret ?? process.env.INSTAGRAM_CLIENT_SECRET ?? 'sim-app-secret';
  const perDelivery = Math.max(1, opts.eventsPerDelivery ?? 1);
  const concurrency = Math.max(1, opts.concurrency ?? 50);
  const accounts = opts.accounts?.length ? opts.accounts : [newBusinessIgId()];
  const customers = accounts.map(() =>
    Array.from({ length: opts.customersPerAccount ?? 100 }, () => ({
      igsid: newIgsid(),
      thread: newThreadId(),
    })),
  );
  const recentMids: string[] = [];
  const recentBodies: string[] = [];
  const agentOpts = { keepAlive: true, maxSockets: concurrency };
  const agent = opts.to.startsWith('https:')
    ? new https.Agent(agentOpts)
    : new http.Agent(agentOpts);

  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  const firstErrors: string[] = [];
  let sent = 0;
  let events = 0;
  let duplicates = 0;
  let ok = 0;
  let non200 = 0;
  let errors = 0;
  let lagged = 0;
  let inflight = 0;

  const buildBody = (): string => {
    if (recentBodies.length && Math.random() < (opts.duplicateRatio ?? 0)) {
      duplicates++;
      return recentBodies[randomInt(0, recentBodies.length)];
    }
    const now = Date.now();
    const list: WebhookEvent[] = [];
    for (let i = 0; i < perDelivery; i++) {
      const a = randomInt(0, accounts.length);
      const c = customers[a][randomInt(0, customers[a].length)];
      const account = accounts[a];
      const isRead = recentMids.length > 0 && Math.random() < (opts.readRatio ?? 0);
      const at = now + i;
      if (isRead) {
        const mid = recentMids[randomInt(0, recentMids.length)];
        list.push({
          entryId: account,
          container: 'messaging',
          field: 'messaging_seen',
          at,
          event: messagingElement(c.igsid, account, at, 'read', { mid }),
        });
      } else {
        const mid = encodeMid(account, c.thread, newItemId());
        recentMids.push(mid);
        if (recentMids.length > 1000) recentMids.shift();
        const text = `Load message ${sent}-${i} \u2014 is the blue one in stock? \ud83d\udc99`;
        list.push({
          entryId: account,
          container: 'messaging',
          field: 'messages',
          at,
          event: messagingElement(c.igsid, account, at, 'message', { mid, text }),
        });
      }
    }
    events += list.length;
    const body = metaStringify(envelope(list, now));
    recentBodies.push(body);
    if (recentBodies.length > 1000) recentBodies.shift();
    return body;
  };

  const fire = async (): Promise<void> => {
    const body = buildBody();
    sent++;
    inflight++;
    const r = await postSigned(
      opts.to,
      body,
      signBody(body, secret),
      opts.timeoutMs ?? 10_000,
      agent,
    ).promise;
    inflight--;
    latencies.push(r.ms);
    const key = r.status ? String(r.status) : 'error';
    statusCounts[key] = (statusCounts[key] ?? 0) + 1;
    if (r.status === 200) ok++;
    else if (r.status) non200++;
    else {
      errors++;
      if (firstErrors.length < 5 && r.error) firstErrors.push(r.error);
    }
  };

  const started = Date.now();
  const durationMs = opts.durationS * 1000;
  let scheduled = 0;
  let lastProgress = started;
  let sentAtLastProgress = 0;
  const pending = new Set<Promise<void>>();

  while (Date.now() - started < durationMs) {
    const due = Math.floor(((Date.now() - started) / 1000) * opts.rate);
    while (scheduled < due) {
      if (inflight >= concurrency) {
        lagged += due - scheduled;
        scheduled = due;
        break;
      }
      scheduled++;
      const p = fire();
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    const now = Date.now();
    if (now - lastProgress >= 1000) {
      opts.onProgress?.({
        elapsedS: Math.round((now - started) / 1000),
        sent,
        ok,
        non200,
        errors,
        inflight,
        lastSecondRate: sent - sentAtLastProgress,
      });
      lastProgress = now;
      sentAtLastProgress = sent;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  agent.destroy();

  const total = Date.now() - started;
  const sorted = [...latencies].sort((x, y) => x - y);
  const mean = sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : 0;
  return {
    to: opts.to,
    durationMs: total,
    sent,
    events,
    duplicates,
    ok,
    non200,
    errors,
    lagged,
    achievedRate: Math.round((sent / total) * 1000 * 10) / 10,
    statusCounts,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? 0,
      mean: Math.round(mean * 10) / 10,
    },
    firstErrors,
  };
}
