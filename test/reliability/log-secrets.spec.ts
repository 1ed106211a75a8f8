/**
 * `npm test`: no secret and no message content in the logs. igdm runs as a child process at
 * LOG_LEVEL=debug (pino JSON, every line captured) while the Meta simulator and a dashboard
 * client go through the e2e flows: webhook verification, OAuth connect, every kind of customer
 * message and event (signed webhooks), profile enrichment, edit refetch, sends with and without
 * attachment, reactions, list/conversations, PATCH/DELETE, manual token refresh, Graph failures,
 * bad JWTs and bad signatures. Then the whole output is searched for every access token (old and
 * refreshed), OAuth code, the app secret, JWT secret, ENCRYPTION_KEY, verify token, each JWT used
 * and each message text.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { APP_SECRET, bearer, ENCRYPTION_KEY, JWT_SECRET, postDelivery } from '../../bench/lib';
import {
  log,
  sleep,
  startInstance,
  startStack,
  type Instance,
  type Stack,
} from './support/harness';

const VERIFY_TOKEN = 'bench-verify-token';

describe('Logs carry no secret and no message content (LOG_LEVEL=debug)', () => {
  let stack: Stack;
  let igdm: Instance;

  afterAll(async () => {
    await igdm?.stop();
    await stack?.close();
  });

  it('should keep every token, secret, JWT and message text out of the logs through the e2e flows', async () => {
    stack = await startStack({
      dbUrl: process.env.IGDM_TEST_DATABASE_URL!,
      accounts: 1,
      customersPerAccount: 1,
    });
    igdm = await startInstance(stack, {
      name: 'logs',
      env: { LOG_LEVEL: 'debug', GRAPH_MAX_ATTEMPTS: '2' },
      keepLines: true,
    });
    const { meta, userId } = stack;
    meta.setWebhookUrl(`${igdm.url}/webhook/instagram`);
    const texts: string[] = [];
    const secretText = (what: string) => {
      const t = `${what} ${randomBytes(6).toString('hex')} ünïcödé ✨`;
      texts.push(t);
      return t;
    };
    const jwt = bearer(userId);
    const jwts = [jwt.slice('Bearer '.length)];
    const api = async (method: string, path: string, body?: unknown, auth = jwt) => {
      const r = await fetch(`${igdm.url}${path}`, {
        method,
        headers: {
          authorization: auth,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        redirect: 'manual',
      });
      return { status: r.status, body: await r.text(), headers: r.headers };
    };
    const statuses: Record<string, number> = {};
    const call = async (label: string, method: string, path: string, body?: unknown) => {
      const r = await api(method, path, body);
      statuses[`${label} ${r.status}`] = (statuses[`${label} ${r.status}`] ?? 0) + 1;
      return r;
    };

    // Webhook verification (the verify token travels in the query string).
    const verify = await fetch(
      `${igdm.url}/webhook/instagram?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=42`,
    );
    expect(verify.status).toBe(200);

    // OAuth connect: callback (code parked under a ticket), then the dashboard's finish: code
    // exchange, long-lived token, subscription.
    const biz = meta.createBusiness({ username: 'log_shop', name: 'Log Shop' });
    const connect = await call('connect', 'GET', '/accounts/instagram/connect');
    expect(connect.status).toBe(200);
    meta.nextAuthorization({ business: biz });
    const authorize = await fetch(JSON.parse(connect.body).data.url as string, {
      redirect: 'manual',
    });
    const back = new URL(authorize.headers.get('location')!);
    const codes = [back.searchParams.get('code') ?? ''];
    const cb = await fetch(`${igdm.url}/accounts/instagram/callback${back.search}`, {
      redirect: 'manual',
    });
    expect(cb.status).toBe(302);
    const landing = new URL(cb.headers.get('location')!).searchParams;
    expect(landing.get('instagram')).toBe('authorized');
    const tickets = [landing.get('connect_ticket') ?? ''];
    const finish = await call('connect finish', 'POST', '/accounts/instagram/connect/finish', {
      connect_ticket: tickets[0],
    });
    expect(finish.status).toBe(200);
    const connectedId = (JSON.parse(finish.body) as { data: { account_id: string } }).data
      .account_id;

    // Customer activity on both accounts: every kind of event, signed by the simulator.
    const seeded = stack.accounts[0];
    const businesses = [seeded.biz, biz];
    const accountIds = [seeded.accountId, connectedId];
    for (const b of businesses) {
      const c = meta.customer(b, { name: 'Jane Secretname', username: 'jane.secret' });
      const { mid } = await c.sends(secretText('inbound text'));
      await c.sendsImage();
      await c.reacts(mid!, 'love');
      await c.edits(mid!, secretText('edited text'));
      const second = await c.sends(secretText('to be edited without text'));
      await c.edits(second.mid!, undefined, { textless: true });
      await c.repliesToStory(secretText('story reply'));
      await c.quickReply(secretText('quick reply'), 'QR_PAYLOAD');
      await c.clicksPostback(secretText('postback title'), 'PB_PAYLOAD');
      await c.repliesTo(mid!, secretText('reply to'));
      await c.comments(secretText('public comment'));
      await c.mentionsInStory();
      const third = await c.sends(secretText('to be unsent'));
      await c.unsends(third.mid!);
      await c.unreacts(mid!);
    }
    // A delivery with a bad signature, and one that is not JSON.
    const bad = JSON.stringify({ object: 'instagram', entry: [{ id: '1', messaging: [] }] });
    await fetch(`${igdm.url}/webhook/instagram`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' },
      body: bad,
    });
    const agent = new http.Agent();
    await postDelivery(
      `${igdm.url}/webhook/instagram`,
      `{"text":"${secretText('broken json')}`,
      agent,
    );
    agent.destroy();

    // Ids are the sender's choice: one delivery whose mid, sender, entry, comment and media ids
    // are 20 000 characters long, and a dashboard path as long as Node accepts. No log line may
    // carry them whole.
    const hugeId = 'Z'.repeat(20_000);
    const now = Date.now();
    const igId = seeded.biz.igId;
    const hostileIds = {
      object: 'instagram',
      entry: [
        {
          id: igId,
          time: now,
          messaging: [
            {
              sender: { id: hugeId },
              recipient: { id: igId },
              timestamp: now,
              message: { mid: hugeId, text: secretText('huge ids') },
            },
            {
              sender: { id: '17841400000000001' },
              recipient: { id: igId },
              timestamp: now,
              reaction: { mid: hugeId, action: 'react', reaction: 'love' },
            },
          ],
          changes: [
            {
              field: 'comments',
              value: {
                id: hugeId,
                text: secretText('huge comment'),
                from: { id: hugeId, username: hugeId },
                media: { id: hugeId },
              },
            },
          ],
        },
        { id: hugeId, time: now, messaging: [] },
      ],
    };
    const hugeAgent = new http.Agent();
    await postDelivery(`${igdm.url}/webhook/instagram`, JSON.stringify(hostileIds), hugeAgent);
    hugeAgent.destroy();
    await call('long path', 'PATCH', `/instagram-dms/${'Z'.repeat(8_000)}`, { read: true });

    // Wait for the worker and enrichment (profiles, edit refetch) to finish.
    const db = stack.db;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const pending = await db.collection('webhook_pending').countDocuments({});
      const named = await db
        .collection('instagram_conversations')
        .countDocuments({ 'customer.name': { $exists: true } });
      if (pending === 0 && named >= 2) break;
      await sleep(250);
    }

    // Dashboard flows.
    const customers = await db
      .collection('instagram_conversations')
      .find({}, { projection: { customer_id: 1, platform_account_id: 1 } })
      .toArray();
    for (const conv of customers) {
      const accountId = String(conv.platform_account_id);
      const recipient = String(conv.customer_id);
      await call('send', 'POST', '/instagram-dms/send', {
        platform_account_id: accountId,
        recipient_id: recipient,
        message_text: secretText('outbound text'),
      });
      await call('send-attachment', 'POST', '/instagram-dms/send', {
        platform_account_id: accountId,
        recipient_id: recipient,
        message_text: secretText('caption'),
        attachment: { type: 'image', url: 'https://cdn.example.com/a.png' },
      });
    }
    await call('list', 'GET', '/instagram-dms/list?limit=100');
    await call('conversations', 'GET', '/instagram-dms/conversations');
    await call('accounts', 'GET', '/accounts');
    await call('settings', 'GET', '/user-settings');
    const list = JSON.parse((await api('GET', '/instagram-dms/list?limit=5')).body) as {
      data: { _id: string; message_id: string }[];
    };
    const dmId = list.data[0]?._id;
    if (dmId) {
      await call('react', 'POST', `/instagram-dms/${dmId}/reaction`, { reaction: 'love' });
      await call('patch', 'PATCH', `/instagram-dms/${dmId}`, { read: true });
      await call('delete', 'DELETE', `/instagram-dms/${dmId}`);
    }
    // Sending too long a text and to a stranger: error paths with the text in the request.
    await call('send-too-long', 'POST', '/instagram-dms/send', {
      platform_account_id: accountIds[0],
      recipient_id: String(customers[0]?.customer_id),
      message_text: secretText('x'.repeat(1100)),
    });
    await call('send-stranger', 'POST', '/instagram-dms/send', {
      platform_account_id: accountIds[0],
      recipient_id: '123',
      message_text: secretText('to a stranger'),
    });
    // Graph down during a send and a profile read.
    const fault = meta.fault({ endpoint: 'send', status5xx: 500, times: 3 });
    await call('send-graph-500', 'POST', '/instagram-dms/send', {
      platform_account_id: accountIds[1],
      recipient_id: String(customers[customers.length - 1]?.customer_id),
      message_text: secretText('while graph fails'),
    });
    fault.clear();
    // Manual token refresh (token made old enough), then a revoked token.
    const monthAgo = Date.now() - 30 * 24 * 3600_000;
    for (const token of meta.state.tokens.keys())
      meta.setTokenTimes(token, { createdAt: meta.now() - 30 * 24 * 3600_000 });
    await db
      .collection('accounts')
      .updateMany(
        { user_id: userId },
        { $set: { token_refreshed_at: new Date(monthAgo), updated_at: new Date(monthAgo) } },
      );
    const refreshed = await call('refresh', 'POST', `/accounts/${connectedId}/refresh`);
    if (refreshed.status !== 200)
      log(`log-check: refresh answered ${refreshed.status} ${refreshed.body}`);
    meta.invalidateToken(seeded.biz);
    await call('send-revoked', 'POST', '/instagram-dms/send', {
      platform_account_id: accountIds[0],
      recipient_id: String(customers[0]?.customer_id),
      message_text: secretText('with a revoked token'),
    });
    // Bad JWTs.
    for (const auth of [
      bearer(userId, 'wrong-secret-0123456789abcdef0123456789'),
      bearer(userId, JWT_SECRET, -60),
      'Bearer not.a.jwt',
    ]) {
      jwts.push(auth.slice('Bearer '.length));
      const r = await api('GET', '/instagram-dms/list', undefined, auth);
      statuses[`bad-jwt ${r.status}`] = (statuses[`bad-jwt ${r.status}`] ?? 0) + 1;
    }
    await sleep(500);
    await igdm.stop(); // flushes pino

    const secrets: [string, string][] = [
      ['app secret', APP_SECRET],
      ['JWT secret', JWT_SECRET],
      ['ENCRYPTION_KEY', ENCRYPTION_KEY],
      ['verify token', VERIFY_TOKEN],
      ...[...meta.state.tokens.keys()].map((t): [string, string] => ['access token', t]),
      ...codes.filter(Boolean).map((c): [string, string] => ['OAuth code', c]),
      ...tickets.filter(Boolean).map((c): [string, string] => ['connect ticket', c]),
      ...jwts.filter((j) => j.length > 20).map((j): [string, string] => ['JWT', j]),
      ...jwts
        .map((j) => j.split('.')[2])
        .filter((s): s is string => !!s && s.length > 20)
        .map((s): [string, string] => ['JWT signature', s]),
      ...texts.map((t): [string, string] => ['message text', t]),
      ...texts.map((t): [string, string] => ['message text marker', t.split(' ').slice(-3)[0]]),
    ];
    const output = igdm.lines.join('\n');
    // JSON escapes non-ASCII and quotes differently: search the raw and the JSON-escaped forms.
    const leaks = secrets.filter(
      ([, value]) => output.includes(value) || output.includes(JSON.stringify(value).slice(1, -1)),
    );
    const levels: Record<string, number> = {};
    for (const line of igdm.lines) {
      const m = /"level":(\d+)/.exec(line);
      if (m) levels[m[1]] = (levels[m[1]] ?? 0) + 1;
    }
    const tokenCount = secrets.filter(([k]) => k === 'access token').length;
    log(
      `log-check: ${igdm.lines.length} log lines (${Math.round(output.length / 1024)} KB, by pino level ` +
        `${JSON.stringify(levels)}) over ${Object.values(statuses).reduce((a, b) => a + b, 0)} API calls ` +
        `and ${meta.deliveries().length} signed deliveries; searched ${secrets.length} values ` +
        `(${tokenCount} access tokens, ${texts.length} message texts, ${jwts.length} JWTs, secrets): ` +
        `${leaks.length} found${leaks.length ? `: ${leaks.map(([k]) => k).join(', ')}` : ''}; API answers ${JSON.stringify(statuses)}`,
    );
    expect(levels['20']).toBeGreaterThan(0); // debug lines were written
    expect(output).toContain(connectedId); // the search sees what is logged (ids are)
    expect(tokenCount).toBeGreaterThanOrEqual(3); // seeded, connected, refreshed
    expect(statuses['refresh 200']).toBe(1);
    expect(leaks.map(([k, v]) => `${k}: ${v.slice(0, 12)}…`)).toEqual([]);
    // Someone else's long ids are cut wherever they are logged.
    expect(output).not.toContain('Z'.repeat(1_000));
    expect(Math.max(...igdm.lines.map((line) => line.length))).toBeLessThan(16_000);
  }, 180_000);
});
