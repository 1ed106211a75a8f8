/* Meta simulator CLI: `npm run meta -- <serve|trigger|load> [options]` */
import { runLoad, type LoadSummary } from './load';
import { metaStringify } from './serialize';
import { startMetaSimulator } from './server';
import { buildTrigger, isTriggerKind, TRIGGER_KINDS, TRIGGER_FIXTURES } from './triggers';
import { postSigned, signBody } from './webhooks';

interface Args {
  positional: string[];
  flags: Map<string, string[]>;
}

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [key, inline] = a.slice(2).split(/=(.*)/s, 2);
    const next = argv[i + 1];
    const value = inline ?? (next !== undefined && !next.startsWith('--') ? (i++, next) : 'true');
    flags.set(key, [...(flags.get(key) ?? []), value]);
  }
  return { positional, flags };
}

const flag = (a: Args, k: string): string | undefined => a.flags.get(k)?.at(-1);
const num = (a: Args, k: string, d: number): number => {
  const v = flag(a, k);
  const n = v === undefined ? d : Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${k} must be a number`);
  return n;
};

const HELP: Record<string, string> = {
  main: `Meta simulator — speaks Instagram Messaging's wire format locally.

Usage: npm run meta -- <command> [options]

Commands:
  serve     run a standalone simulator (Graph API, OAuth, CDN, signed webhooks)
  trigger   fire ONE realistic signed webhook delivery of a kind at a URL
  load      bounded load of signed deliveries with ack-latency stats

Run 'npm run meta -- <command> --help' for options.`,
  serve: `Usage: npm run meta -- serve [options]

  --port N            listen port (default 9000)
  --host H            bind address (default 127.0.0.1)
  --app-secret S      Instagram app secret (default $INSTAGRAM_CLIENT_SECRET or sim-app-secret)
  --client-id ID      Instagram app id (default 1234567890123456)
  --webhook-url URL   where deliveries are POSTed (igdm's webhook endpoint)
  --verify-token T    token for the GET verification handshake
  --echo-delay-ms N   delay of echo webhooks after a send (0: before the send reply)
  --graph-latency-ms N  latency added to every Graph/OAuth reply
  --seed              create a demo business + customers and print ids, token and env lines
  --verbose           log one line per request (never tokens or message text)

Control API (for curl while igdm runs):
  POST /_sim/customers/:igsid/messages   {"text":"hi"} or {"attachment":{"type":"image"}}
  POST /_sim/customers/:igsid/actions    {"action":"reacts","args":["<mid>","love"]}
  POST /_sim/businesses {"username"} · POST /_sim/customers {"businessIgId","username"}
  POST /_sim/trigger {"kind":"text"} · POST /_sim/faults {...} · DELETE /_sim/faults
  POST /_sim/clock {"advanceMs":N} · POST /_sim/authorize-next {"businessIgId","deny"}
  POST /_sim/webhook-url {"url"} · POST /_sim/drop {"count"}
  GET  /_sim/state · /_sim/requests · /_sim/deliveries · /_sim/sent`,
  trigger: `Usage: npm run meta -- trigger <kind> --to <url> [options]
       npm run meta -- trigger --list

  --to URL            receiver (igdm's webhook endpoint)
  --secret S          signing secret (default $INSTAGRAM_CLIENT_SECRET or sim-app-secret)
  --account IGID      business account id for entry.id (default a fresh 1784… id)
  --customer IGSID    customer id (default a fresh one)
  --text T            text for kinds that carry text
  --mid MID           target mid for reply/unsend/edit/reaction/read
  --print             print the body that was sent`,
  load: `Usage: npm run meta -- load --to <url> --rate R --duration S [options]

  --rate R                  deliveries per second (default 50)
  --duration S              seconds (default 10)
  --events-per-delivery N   events batched per delivery (default 1)
  --concurrency C           max deliveries in flight (default 50)
  --duplicate-ratio X       share of byte-identical re-sends, 0–1 (default 0)
  --read-ratio X            share of read events, 0–1 (default 0)
  --account IGID            business account id (repeatable; default one fresh id)
  --secret S                signing secret (default $INSTAGRAM_CLIENT_SECRET or sim-app-secret)
  --json                    print the summary as JSON`,
};

async function serve(a: Args): Promise<void> {
  const sim = await startMetaSimulator({
    port: num(a, 'port', 9000),
    host: flag(a, 'host'),
    appSecret: flag(a, 'app-secret') ?? process.env.INSTAGRAM_CLIENT_SECRET,
    clientId: flag(a, 'client-id'),
    webhookUrl: flag(a, 'webhook-url'),
    verifyToken: flag(a, 'verify-token'),
    echoDelayMs: num(a, 'echo-delay-ms', 0),
    graphLatencyMs: num(a, 'graph-latency-ms', 0),
    log: a.flags.has('verbose') ? (line) => console.log(line) : undefined,
  });
  console.log(`Meta simulator listening on ${sim.url}`);
  console.log(`  graph  ${sim.graphUrl}   api ${sim.apiUrl}   www ${sim.wwwUrl}`);
  console.log(`  webhooks → ${sim.getWebhookUrl() ?? '(none yet: POST /_sim/webhook-url)'}`);
  if (a.flags.has('seed')) {
    const biz = sim.createBusiness({ username: 'demo_shop', name: 'Demo Shop' });
    const alice = sim.customer(biz, { name: 'Alice', username: 'alice' });
    const bob = sim.customer(biz, { name: 'Bob', username: 'bob' });
    console.log('\nSeeded:');
    console.log(
      `  business  igId=${biz.igId} appScopedId=${biz.appScopedId} username=${biz.username}`,
    );
    console.log(`  token     ${biz.accessToken}`);
    console.log(`  customers alice=${alice.igsid} bob=${bob.igsid}`);
    console.log('\nPoint igdm at it:');
    console.log(`  INSTAGRAM_GRAPH_URL=${sim.graphUrl}`);
    console.log(`  INSTAGRAM_API_URL=${sim.apiUrl}`);
    console.log(`  INSTAGRAM_WWW_URL=${sim.wwwUrl}`);
    console.log(`  INSTAGRAM_CLIENT_ID=${sim.clientId}`);
    console.log(`  INSTAGRAM_CLIENT_SECRET=${sim.appSecret}`);
    console.log(`  INSTAGRAM_VERIFY_TOKEN=${sim.verifyToken}`);
    console.log('\nPlay a customer:');
    console.log(
      `  curl -s -X POST ${sim.url}/_sim/customers/${alice.igsid}/messages -H 'content-type: application/json' -d '{"text":"Hi! Do you ship to Lisbon?"}'`,
    );
  }
  const stop = (): void => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function trigger(a: Args): Promise<number> {
  if (a.flags.has('list')) {
    for (const k of TRIGGER_KINDS) console.log(`${k.padEnd(16)} ${TRIGGER_FIXTURES[k]}`);
    return 0;
  }
  const kind = a.positional[0];
  const to = flag(a, 'to');
  if (!kind || !to) {
    console.error(HELP.trigger);
    return 2;
  }
  if (!isTriggerKind(kind)) {
    console.error(`unknown kind '${kind}'; try --list`);
    return 2;
  }
  const secret = flag(a, 'secret') ?? process.env.INSTAGRAM_CLIENT_SECRET ?? 'sim-app-secret';
  const t = buildTrigger(kind, {
    accountId: flag(a, 'account'),
    customerId: flag(a, 'customer'),
    text: flag(a, 'text'),
    mid: flag(a, 'mid'),
  });
  const body = metaStringify(t.body);
  const r = await postSigned(to, body, signBody(body, secret), 10_000).promise;
  if (a.flags.has('print')) console.log(body);
  if (r.status) console.log(`${r.status} (${r.ms} ms) ${r.body ?? ''}`);
  else console.log(`error (${r.ms} ms): ${r.error ?? 'unknown'}`);
  return r.status === 200 ? 0 : 1;
}

function printSummary(s: LoadSummary): void {
  const l = s.latencyMs;
  console.log(
    [
      `target     ${s.to}`,
      `duration   ${(s.durationMs / 1000).toFixed(1)} s   achieved ${s.achievedRate}/s   lagged ${s.lagged}`,
      `sent       ${s.sent} deliveries (${s.events} events, ${s.duplicates} duplicates)`,
      `200s       ${s.ok}   non-200 ${s.non200}   errors ${s.errors}   ${JSON.stringify(s.statusCounts)}`,
      `ack ms     p50 ${l.p50}   p95 ${l.p95}   p99 ${l.p99}   max ${l.max}   mean ${l.mean}`,
      ...(s.firstErrors.length ? [`errors     ${s.firstErrors.join(' | ')}`] : []),
    ].join('\n'),
  );
}

async function load(a: Args): Promise<number> {
  const to = flag(a, 'to');
  if (!to) {
    console.error(HELP.load);
    return 2;
  }
  const json = a.flags.has('json');
  const summary = await runLoad({
    to,
    rate: num(a, 'rate', 50),
    durationS: num(a, 'duration', 10),
    secret: flag(a, 'secret'),
    eventsPerDelivery: num(a, 'events-per-delivery', 1),
    concurrency: num(a, 'concurrency', 50),
    duplicateRatio: num(a, 'duplicate-ratio', 0),
    readRatio: num(a, 'read-ratio', 0),
    accounts: a.flags.get('account'),
    onProgress: json
      ? undefined
      : (p) =>
          console.log(
            `[${String(p.elapsedS).padStart(3)}s] sent ${p.sent} (${p.lastSecondRate}/s) ok ${p.ok} non-200 ${p.non200} errors ${p.errors} inflight ${p.inflight}`,
          ),
  });
  if (json) console.log(JSON.stringify(summary, null, 2));
  else printSummary(summary);
  return summary.errors || summary.non200 ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const cmd = a.positional.shift();
  if (!cmd || cmd === 'help') {
    console.log(HELP.main);
    return 0;
  }
  if (a.flags.has('help')) {
    console.log(HELP[cmd] ?? HELP.main);
    return 0;
  }
  switch (cmd) {
    case 'serve':
      await serve(a);
      return -1; // keep running
    case 'trigger':
      return trigger(a);
    case 'load':
      return load(a);
    default:
      console.error(`unknown command '${cmd}'\n\n${HELP.main}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
