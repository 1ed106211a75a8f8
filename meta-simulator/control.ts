import type { ActionResult, Customer, SendableType } from './customer';
import type { ReactionName } from './events';
import type { FaultSpec } from './faults';
import type { Params } from './http-util';
import type { MetaSimulator } from './server';
import { isTriggerKind } from './triggers';
import type { DeliveryRecord } from './webhooks';

/**
 * Tiny control API under /_sim so a human (curl) or another process can play customers and
 * steer the simulator while igdm runs against it. Not part of Meta's surface.
 */

export interface ControlReply {
  status: number;
  body: unknown;
}

type Opts = { wait: 'first-attempt' };
const S = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
const U = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : S(v));

/** Explicit argument mapping: only these customer methods are reachable over HTTP. */
const ACTIONS: Record<string, (c: Customer, a: unknown[], o: Opts) => Promise<ActionResult>> = {
  sends: (c, [text], o) => c.sends(S(text), o),
  sendsImage: (c, [url], o) => c.sendsImage(U(url), o),
  sendsAttachment: (c, [type, url], o) => c.sendsAttachment(S(type) as SendableType, U(url), o),
  sharesPost: (c, [caption], o) => c.sharesPost(U(caption), o),
  sharesReel: (c, [title], o) => c.sharesReel(U(title), o),
  sharesStory: (c, _a, o) => c.sharesStory(o),
  mentionsInStory: (c, _a, o) => c.mentionsInStory(o),
  repliesToStory: (c, [text], o) => c.repliesToStory(S(text), o),
  repliesTo: (c, [mid, text], o) => c.repliesTo(S(mid), S(text), o),
  quickReply: (c, [text, payload], o) => c.quickReply(S(text), S(payload), o),
  sendsFromAd: (c, [text, ref], o) => c.sendsFromAd(S(text), U(ref), o),
  sendsUnsupported: (c, _a, o) => c.sendsUnsupported(o),
  reacts: (c, [mid, reaction], o) => c.reacts(S(mid), (U(reaction) ?? 'love') as ReactionName, o),
  unreacts: (c, [mid], o) => c.unreacts(S(mid), o),
  edits: (c, [mid, text], o) => c.edits(S(mid), U(text), o),
  unsends: (c, [mid], o) => c.unsends(S(mid), o),
  reads: (c, [mid], o) => c.reads(U(mid), o),
  clicksPostback: (c, [title, payload], o) => c.clicksPostback(S(title), S(payload), o),
  referral: (c, [ref], o) => c.referral(S(ref), o),
  comments: (c, [mediaId, text], o) => c.comments(U(mediaId), S(text), o),
};

function deliverySummary(d: DeliveryRecord): Record<string, unknown> {
  return {
    id: d.id,
    kind: d.kind,
    status: d.status,
    delivered: d.delivered,
    reason: d.reason,
    attempts: d.attempts.map((a) => ({ status: a.status, ms: a.ms, error: a.error })),
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export async function handleControl(
  sim: MetaSimulator,
  method: string,
  segments: string[],
  query: Record<string, string>,
  body: Params,
): Promise<ControlReply> {
  const route = `${method} ${segments.join('/')}`;
  const bad = (message: string): ControlReply => ({ status: 400, body: { error: message } });
  try {
    if (route === 'GET state') return { status: 200, body: summary(sim) };
    if (route === 'POST businesses') {
      const biz = sim.createBusiness({
        username: str(body.username),
        name: str(body.name),
        subscribedFields: Array.isArray(body.subscribedFields)
          ? body.subscribedFields.map(String)
          : undefined,
      });
      return { status: 201, body: biz };
    }
    if (route === 'POST customers') {
      const biz =
        sim.state.businesses.get(str(body.businessIgId) ?? '') ??
        [...sim.state.businesses.values()][0];
      if (!biz) return bad('create a business first');
      const c = sim.customer(biz, { name: str(body.name), username: str(body.username) });
      return {
        status: 201,
        body: { igsid: c.igsid, businessIgId: biz.igId, name: c.name, username: c.username },
      };
    }
    if (segments[0] === 'customers' && segments[1] && method === 'POST') {
      const customer = sim.findCustomer(segments[1]);
      if (!customer) return { status: 404, body: { error: 'unknown customer' } };
      return await customerAction(customer, segments[2], body);
    }
    if (route === 'POST trigger') {
      const kind = str(body.kind) ?? '';
      if (!isTriggerKind(kind)) return bad(`unknown kind ${kind}`);
      const r = await sim.trigger(kind, { wait: 'first-attempt', text: str(body.text) });
      return { status: 200, body: { mid: r.mid, delivery: deliverySummary(r.delivery) } };
    }
    if (route === 'POST faults') {
      const f = sim.fault(body as unknown as FaultSpec);
      return { status: 201, body: { id: f.id } };
    }
    if (route === 'DELETE faults') {
      sim.clearFaults();
      return { status: 200, body: { success: true } };
    }
    if (route === 'POST clock') {
      sim.advanceClock(Number(body.advanceMs) || 0);
      return { status: 200, body: { now: sim.now() } };
    }
    if (route === 'POST webhook-url') {
      sim.setWebhookUrl(str(body.url));
      return { status: 200, body: { url: sim.getWebhookUrl() } };
    }
    if (route === 'POST authorize-next') {
      const business = sim.state.businesses.get(str(body.businessIgId) ?? '');
      if (!business) return bad('unknown businessIgId');
      sim.nextAuthorization({
        business,
        deny: body.deny === true,
        grant: Array.isArray(body.grant) ? body.grant.map(String) : undefined,
      });
      return { status: 200, body: { success: true } };
    }
    if (route === 'POST drop') {
      sim.dropDeliveries({ count: Number(body.count) || 1 });
      return { status: 200, body: { success: true } };
    }
    if (route === 'GET requests') {
      const limit = Number(query.limit) || 100;
      const list = sim
        .requests(query.endpoint ? { endpoint: query.endpoint as never } : undefined)
        .slice(-limit);
      // Headers are left out: they carry bearer tokens.
      return {
        status: 200,
        body: list.map((r) => ({
          id: r.id,
          at: r.at,
          method: r.method,
          path: r.path,
          endpoint: r.endpoint,
          status: r.status,
          fault: r.fault,
          durationMs: r.durationMs,
        })),
      };
    }
    if (route === 'GET deliveries') {
      const limit = Number(query.limit) || 100;
      return { status: 200, body: sim.deliveries().slice(-limit).map(deliverySummary) };
    }
    if (route === 'GET sent') return { status: 200, body: sim.sent() };
    return { status: 404, body: { error: `no control route ${route}` } };
  } catch (e: unknown) {
    return bad(e instanceof Error ? e.message : 'error');
  }
}

async function customerAction(
  c: Customer,
  sub: string | undefined,
  body: Params,
): Promise<ControlReply> {
  const opts = { wait: 'first-attempt' as const };
  let result: ActionResult;
  if (sub === 'messages') {
    const attachment = body.attachment as { type?: string; url?: string } | undefined;
    if (attachment?.type) {
      result = await c.sendsAttachment(attachment.type as SendableType, attachment.url, opts);
    } else if (typeof body.text === 'string') {
      result = await c.sends(body.text, opts);
    } else {
      return { status: 400, body: { error: 'text or attachment required' } };
    }
  } else if (sub === 'actions') {
    const run = ACTIONS[str(body.action) ?? ''];
    if (!run) {
      return {
        status: 400,
        body: { error: `action must be one of ${Object.keys(ACTIONS).join(', ')}` },
      };
    }
    result = await run(c, Array.isArray(body.args) ? (body.args as unknown[]) : [], opts);
  } else {
    return { status: 404, body: { error: 'use /messages or /actions' } };
  }
  return { status: 200, body: { ...result, delivery: deliverySummary(result.delivery) } };
}

function summary(sim: MetaSimulator): Record<string, unknown> {
  const { state } = sim;
  return {
    url: sim.url,
    graphUrl: sim.graphUrl,
    apiUrl: sim.apiUrl,
    wwwUrl: sim.wwwUrl,
    webhookUrl: sim.getWebhookUrl(),
    now: sim.now(),
    appFields: state.appFields,
    businesses: [...state.businesses.values()].map((b) => ({
      igId: b.igId,
      appScopedId: b.appScopedId,
      username: b.username,
      subscribedFields: b.subscribedFields,
      tokenExpiresAt: b.tokenExpiresAt,
    })),
    customers: [...state.customers.values()].map((c) => ({
      igsid: c.igsid,
      businessIgId: c.businessIgId,
      username: c.username,
      consent: c.consent,
      lastUserMessageAt: c.lastUserMessageAt,
    })),
    conversations: [...state.threads.values()].map((t) => ({
      id: t.conversationId,
      businessIgId: t.businessIgId,
      customerIgsid: t.customerIgsid,
      messages: t.messages.length,
    })),
  };
}
