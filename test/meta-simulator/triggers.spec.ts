import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildTrigger,
  decodeConversationId,
  decodeMid,
  encodeConversationId,
  encodeMid,
  metaStringify,
  runLoad,
  startMetaSimulator,
  TRIGGER_FIXTURES,
  TRIGGER_KINDS,
  type MetaSimulator,
} from '../../meta-simulator';
import { main as cli } from '../../meta-simulator/cli';
import { shape, startReceiver, type Receiver } from './helpers';

const FIXTURES = join(__dirname, '../../meta-simulator/fixtures/payloads');
const fixture = (file: string): unknown => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));

describe('Meta simulator triggers, CLI and load', () => {
  let receiver: Receiver;
  let meta: MetaSimulator | undefined;

  beforeEach(async () => {
    receiver = await startReceiver();
  });

  afterEach(async () => {
    await meta?.close();
    meta = undefined;
    await receiver.close();
  });

  it.each(TRIGGER_KINDS.map((k) => [k, TRIGGER_FIXTURES[k]]))(
    'should build a %s delivery with the key structure of %s',
    (kind, file) => {
      const body = JSON.parse(metaStringify(buildTrigger(kind).body));
      expect(shape(body)).toEqual(shape(fixture(file)));
    },
  );

  it('should give customer actions the key structure of the reference payloads', async () => {
    meta = await startMetaSimulator({ webhookUrl: receiver.url });
    const biz = meta.createBusiness();
    const alice = meta.customer(biz);
    const last = () => receiver.received.at(-1)?.json;
    const expectLike = (file: string) => expect(shape(last())).toEqual(shape(fixture(file)));

    const { mid } = await alice.sends('Hi! Do you ship to Lisbon?');
    expectLike('message-text.json');
    await alice.sendsImage();
    expectLike('message-image.json');
    await alice.sendsAttachment('video');
    expectLike('message-video.json');
    await alice.sendsAttachment('audio');
    expectLike('message-audio.json');
    await alice.sendsAttachment('share');
    expectLike('message-share.json');
    await alice.sharesPost();
    expectLike('message-ig-post.json');
    await alice.sharesReel();
    expectLike('message-ig-reel.json');
    await alice.sharesStory();
    expectLike('message-ig-story.json');
    await alice.mentionsInStory();
    expectLike('story-mention.json');
    await alice.repliesToStory('Is this still available in M?');
    expectLike('story-reply.json');
    const reply = await alice.repliesTo(mid ?? '', 'Yes, that one please');
    expectLike('reply-to-message.json');
    await alice.quickReply('Track my order', 'QR_TRACK_ORDER');
    expectLike('quick-reply.json');
    await alice.sendsFromAd('Hi, I saw your ad');
    expectLike('referral-ad-message.json');
    await alice.sendsUnsupported();
    expectLike('message-unsupported.json');
    await alice.sends('Anyone there?', { standby: true });
    expectLike('standby.json');
    await alice.edits(reply.mid ?? '', 'Yes, that one please, size M');
    expectLike('edit.json');
    await alice.edits(reply.mid ?? '');
    expectLike('edit-observed-no-text.json');
    await alice.reacts(mid ?? '', 'love');
    expectLike('reaction.json');
    await alice.unreacts(mid ?? '');
    expectLike('unreaction.json');
    await alice.clicksPostback('What are your opening hours?', 'ICEBREAKER_HOURS');
    expectLike('postback.json');
    await alice.referral('spring_sale_2026');
    expectLike('referral.json');
    await alice.unsends(mid ?? '');
    expectLike('unsend.json');
    const c = await alice.comments('18000000000000101', 'How much is this?');
    expectLike('comment.json');
    await alice.comments('18000000000000102', 'Same question!', {
      parentId: c.commentId,
      productType: 'REELS',
    });
    expectLike('comment-reply.json');
    await alice.comments('18000000000000105', 'Hello from the live!', { live: true });
    expectLike('live-comment.json');
    const textOnly = await alice.comments('Nice!');
    expectLike('comment.json');
    expect(last().entry[0].changes[0].value).toMatchObject({
      id: textOnly.commentId,
      text: 'Nice!',
    });

    const res = await fetch(`${meta.graphUrl}/v24.0/me/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${biz.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ recipient: { id: alice.igsid }, message: { text: 'We ship!' } }),
    });
    expect(res.status).toBe(200);
    expectLike('echo.json');
    await alice.reads();
    expectLike('read.json');
  });

  it('should deliver triggered kinds from the simulator with current ids', async () => {
    meta = await startMetaSimulator({ webhookUrl: receiver.url });
    const biz = meta.createBusiness();
    const alice = meta.customer(biz);
    const t = await meta.trigger('image');
    expect(t.delivery.delivered).toBe(true);
    const ev = receiver.received[0].json.entry[0].messaging[0];
    expect(ev.sender.id).toBe(alice.igsid);
    expect(ev.recipient.id).toBe(biz.igId);
    expect(ev.message.mid).toBe(t.mid);
    expect((await fetch(ev.message.attachments[0].payload.url)).status).toBe(200);
  });

  it('should fire one signed delivery from the CLI trigger command', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((l: string) => void lines.push(l));
    try {
      const code = await cli([
        'trigger',
        'comment',
        '--to',
        receiver.url,
        '--secret',
        's3',
        '--account',
        '17841400000000001',
      ]);
      expect(code).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(lines[0]).toMatch(/^200 \(/);
    const got = receiver.received[0];
    expect(got.headers['x-hub-signature-256']).toBe(
      `sha256=${createHmac('sha256', 's3').update(got.raw).digest('hex')}`,
    );
    expect(got.json.entry[0].id).toBe('17841400000000001');
    expect(got.json.entry[0].time).toBeLessThan(1e11);
  });

  it('should run a bounded load and summarise ack latency', async () => {
    const summary = await runLoad({
      to: receiver.url,
      rate: 40,
      durationS: 1,
      eventsPerDelivery: 3,
      duplicateRatio: 0.2,
      readRatio: 0.3,
      accounts: ['17841400000000001', '17841400000000002'],
    });
    expect(summary.sent).toBeGreaterThanOrEqual(30);
    expect(summary.ok).toBe(summary.sent);
    expect(summary.errors).toBe(0);
    expect(summary.events).toBeGreaterThan(summary.sent);
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(summary.latencyMs.p50);
    expect(receiver.received).toHaveLength(summary.sent);
    const texts = receiver.received.map((r) => r.text);
    expect(new Set(texts).size).toBe(summary.sent - summary.duplicates);
  });

  it('should encode and decode mids and conversation ids like Meta', () => {
    const thread = '340282366841710300949128177444854295313';
    const mid = encodeMid('17841400000000001', thread, '7134234567890123001');
    expect(mid).toBe(
      'aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMDk0OTEyODE3NzQ0NDg1NDI5NTMxMzo3MTM0MjM0NTY3ODkwMTIzMDAx',
    );
    expect(decodeMid(mid)).toEqual({
      businessIgId: '17841400000000001',
      threadId: thread,
      itemId: '7134234567890123001',
    });
    const conv = encodeConversationId('17841400000000001', thread);
    expect(conv.startsWith('aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6')).toBe(true);
    expect(decodeConversationId(conv)).toEqual({
      businessIgId: '17841400000000001',
      threadId: thread,
    });
    expect(decodeMid('random_mid')).toBeUndefined();
  });
});
