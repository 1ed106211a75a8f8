import { createHmac } from 'node:crypto';
import { startMetaSimulator, type MetaSimulator } from '../../meta-simulator';
import { call, startReceiver, type Receiver } from './helpers';

const SECRET = 'test-app-secret';

describe('Meta simulator webhooks', () => {
  let meta: MetaSimulator;
  let receiver: Receiver;

  afterEach(async () => {
    await meta?.close();
    await receiver?.close();
  });

  async function setup(reply?: Parameters<typeof startReceiver>[0], opts = {}): Promise<void> {
    receiver = await startReceiver(reply);
    meta = await startMetaSimulator({
      appSecret: SECRET,
      webhookUrl: receiver.url,
      retryDelaysMs: [0, 20, 20],
      deliveryTimeoutMs: 300,
      ...opts,
    });
  }

  it('should sign the exact received bytes with the app secret (sha256 and legacy sha1)', async () => {
    await setup();
    const biz = meta.createBusiness({ username: 'shop_a' });
    const alice = meta.customer(biz, { name: 'Alice' });
    const { delivery, mid } = await alice.sends('Olá / "quoted" 😀');

    const [got] = receiver.received;
    const sha256 = createHmac('sha256', SECRET).update(got.raw).digest('hex');
    const sha1 = createHmac('sha1', SECRET).update(got.raw).digest('hex');
    expect(got.headers['x-hub-signature-256']).toBe(`sha256=${sha256}`);
    expect(got.headers['x-hub-signature']).toBe(`sha1=${sha1}`);
    expect(got.headers['user-agent']).toBe('facebookexternalua');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.method).toBe('POST');
    expect(delivery.delivered).toBe(true);
    expect(delivery.attempts).toEqual([expect.objectContaining({ status: 200 })]);
    expect(delivery.body).toBe(got.text);
    expect(got.json.entry[0].messaging[0].message).toEqual({ mid, text: 'Olá / "quoted" 😀' });
  });

  it('should escape slashes and non-ASCII like Meta and keep the wire key order', async () => {
    await setup();
    const biz = meta.createBusiness();
    const alice = meta.customer(biz);
    await alice.sends('á/😀');
    const { raw, text, json } = receiver.received[0];

    expect([...raw].every((b) => b < 0x80)).toBe(true);
    expect(text).toContain('"text":"\\u00e1\\/\\ud83d\\ude00"');
    expect(text).not.toMatch(/\s/);
    expect(Object.keys(json)).toEqual(['object', 'entry']);
    expect(Object.keys(json.entry[0])).toEqual(['time', 'id', 'messaging']);
    expect(Object.keys(json.entry[0].messaging[0])).toEqual([
      'sender',
      'recipient',
      'timestamp',
      'message',
    ]);
    expect(json.entry[0].time).toBeGreaterThan(1e12);
    expect(json.entry[0].messaging[0].timestamp).toBeGreaterThan(1e12);

    await alice.comments(undefined, 'How much?');
    const comment = receiver.received[1].json;
    expect(Object.keys(comment)).toEqual(['entry', 'object']);
    expect(Object.keys(comment.entry[0])).toEqual(['id', 'time', 'changes']);
    expect(Object.keys(comment.entry[0].changes[0])).toEqual(['value', 'field']);
    expect(comment.entry[0].time).toBeLessThan(1e11); // seconds
  });

  it('should make a re-serialised body fail the signature check', async () => {
    await setup();
    const alice = meta.customer(meta.createBusiness());
    await alice.sends('Preço: 10€ / unidade');
    const got = receiver.received[0];
    const reserialised = JSON.stringify(JSON.parse(got.text));
    const wrong = `sha256=${createHmac('sha256', SECRET).update(reserialised).digest('hex')}`;
    expect(reserialised).not.toBe(got.text);
    expect(got.headers['x-hub-signature-256']).not.toBe(wrong);
  });

  it('should retry a failed delivery: 500 once then 200 gives two attempts', async () => {
    await setup((_r, i) => (i === 0 ? 500 : 200));
    const alice = meta.customer(meta.createBusiness());
    const { delivery } = await alice.sends('hi');
    expect(delivery.attempts.map((a) => a.status)).toEqual([500, 200]);
    expect(delivery.delivered).toBe(true);
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1].text).toBe(receiver.received[0].text);
  });

  it('should retry after a receiver timeout and give up after the schedule', async () => {
    await setup((_r, i) => (i === 0 ? { status: 200, delayMs: 600 } : 200));
    const alice = meta.customer(meta.createBusiness());
    const { delivery } = await alice.sends('slow');
    expect(delivery.attempts[0].error).toMatch(/timeout/);
    expect(delivery.attempts[1].status).toBe(200);

    await receiver.close();
    receiver = await startReceiver(() => 503);
    meta.setWebhookUrl(receiver.url);
    const failed = await alice.sends('nobody home');
    expect(failed.delivery.status).toBe('failed');
    expect(failed.delivery.attempts).toHaveLength(4);
  });

  it('should not count a 201 as success by default (Meta documents 200 OK)', async () => {
    await setup(() => 201, { retryDelaysMs: [] });
    const alice = meta.customer(meta.createBusiness());
    const { delivery } = await alice.sends('hi');
    expect(delivery.delivered).toBe(false);
  });

  it('should drop chosen deliveries while the message stays in Graph state', async () => {
    await setup();
    const biz = meta.createBusiness();
    const alice = meta.customer(biz);
    const drop = meta.dropDeliveries({ count: 1 });
    const lost = await alice.sends('lost in transit');
    const kept = await alice.sends('arrives');
    expect(lost.delivery.status).toBe('dropped');
    expect(drop.remaining).toBe(0);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0].json.entry[0].messaging[0].message.mid).toBe(kept.mid);

    const list = await call(meta, 'GET', '/v24.0/me/conversations', {
      token: biz.accessToken,
      query: { platform: 'instagram', fields: 'messages{id,message}' },
    });
    const mids = list.json.data[0].messages.data.map((m: { id: string }) => m.id);
    expect(mids).toEqual([kept.mid, lost.mid]);
  });

  it('should deliver the echo before the Send API reply when echoDelayMs is 0', async () => {
    await setup();
    const biz = meta.createBusiness();
    const alice = meta.customer(biz);
    await alice.sends('hello?');
    const res = await call(meta, 'POST', `/v24.0/${biz.igId}/messages`, {
      token: biz.accessToken,
      json: { recipient: { id: alice.igsid }, message: { text: 'We ship to Lisbon/Porto' } },
    });
    const repliedAt = performance.now();
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual(['recipient_id', 'message_id']);
    const echo = receiver.received[1];
    expect(echo.at).toBeLessThan(repliedAt);
    const ev = echo.json.entry[0].messaging[0];
    expect(ev.sender.id).toBe(biz.igId);
    expect(ev.recipient.id).toBe(alice.igsid);
    expect(ev.message).toEqual({
      mid: res.json.message_id,
      text: 'We ship to Lisbon/Porto',
      is_echo: true,
    });
    expect(meta.sent(biz)).toEqual([
      expect.objectContaining({ mid: res.json.message_id, recipientId: alice.igsid }),
    ]);
  });

  it('should deliver the echo after the reply when echoDelayMs is set', async () => {
    await setup(undefined, { echoDelayMs: 100 });
    const biz = meta.createBusiness();
    const alice = meta.customer(biz);
    await alice.sends('hi');
    await call(meta, 'POST', '/v24.0/me/messages', {
      token: biz.accessToken,
      json: { recipient: { id: alice.igsid }, message: { text: 'later' } },
    });
    expect(receiver.received).toHaveLength(1);
    await receiver.waitFor(2);
    expect(receiver.received[1].json.entry[0].messaging[0].message.is_echo).toBe(true);
  });

  it('should batch several events in one delivery, one entry per conversation', async () => {
    await setup();
    const a = meta.createBusiness();
    const b = meta.createBusiness();
    const alice = meta.customer(a);
    const bob = meta.customer(b);
    const first = await alice.sends('first', { wait: 'final' });
    const d = await meta.batch(async () => {
      await alice.sends('one more');
      await alice.reacts(first.mid ?? '', 'love');
      await bob.sends('hello B');
    });
    expect(d.delivered).toBe(true);
    expect(receiver.received).toHaveLength(2);
    const body = receiver.received[1].json;
    expect(body.entry.map((e: { id: string }) => e.id)).toEqual([a.igId, b.igId]);
    expect(body.entry[0].messaging).toHaveLength(2);
    expect(body.entry[0].messaging[1].reaction).toEqual({
      mid: first.mid,
      action: 'react',
      reaction: 'love',
      emoji: '❤️',
    });
    expect(receiver.received[1].text).toContain('"emoji":"\\u2764\\ufe0f"');
  });

  it('should skip events for fields the account is not subscribed to', async () => {
    await setup();
    const biz = meta.createBusiness({ subscribedFields: ['messages'] });
    const alice = meta.customer(biz);
    const { mid } = await alice.sends('hi');
    const reaction = await alice.reacts(mid ?? '');
    expect(reaction.delivery.status).toBe('skipped');
    expect(receiver.received).toHaveLength(1);
    meta.driftSubscription(biz, []);
    expect((await alice.sends('silence')).delivery.status).toBe('skipped');
  });

  it('should sign and post arbitrary bodies with meta.deliver', async () => {
    await setup();
    const d = await meta.deliver({
      object: 'instagram',
      entry: [{ time: 1, id: '0', messaging: [] }],
    });
    expect(d.delivered).toBe(true);
    expect(receiver.received[0].text).toBe(
      '{"object":"instagram","entry":[{"time":1,"id":"0","messaging":[]}]}',
    );
    const bad = await meta.deliver('{"raw":true}', { secret: 'wrong' });
    expect(bad.signature).not.toBe(
      `sha256=${createHmac('sha256', SECRET).update('{"raw":true}').digest('hex')}`,
    );
  });

  it('should run the GET verification handshake against the receiver', async () => {
    await setup(
      (r) => {
        const q = new URL(r.url, 'http://x').searchParams;
        return q.get('hub.verify_token') === 'vt'
          ? { status: 200, body: q.get('hub.challenge') ?? '' }
          : 403;
      },
      { verifyToken: 'vt' },
    );
    await expect(meta.verifyWebhook()).resolves.toMatchObject({ ok: true, status: 200 });
    await expect(meta.verifyWebhook({ verifyToken: 'nope' })).resolves.toMatchObject({
      ok: false,
      status: 403,
    });
  });
});
