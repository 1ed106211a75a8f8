import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ParsedEvent } from '../dms/events/ingest-event.types';
import { entryIds, isWebhookBody, parseDelivery, storable, toMillis } from './event-parser';

// The simulator's copy of Meta's reference payloads: the repo carries every fixture it tests with.
const PAYLOADS = join(__dirname, '..', '..', 'meta-simulator', 'fixtures', 'payloads');

function load(name: string): unknown {
  return JSON.parse(readFileSync(join(PAYLOADS, name), 'utf8'));
}
function only(name: string): ParsedEvent {
  const events = parseDelivery(load(name));
  expect(events).toHaveLength(1);
  return events[0];
}

/** Expected kind (and message type) of the single event of each payload file. */
const EXPECTED: Record<
  string,
  { kind: ParsedEvent['kind']; messageType?: string; reason?: string }
> = {
  'comment-on-ad.json': { kind: 'comment' },
  'comment-own.json': { kind: 'comment' },
  'comment-reply.json': { kind: 'comment' },
  'comment.json': { kind: 'comment' },
  'dashboard-test-messages.json': { kind: 'ignored', reason: 'dashboard_test' },
  'echo-attachment.json': { kind: 'message', messageType: 'attachment' },
  'echo.json': { kind: 'message', messageType: 'text' },
  'edit-observed-no-text.json': { kind: 'edit' },
  'edit.json': { kind: 'edit' },
  'live-comment.json': { kind: 'comment' },
  'mention-in-comment.json': { kind: 'mention' },
  'message-audio.json': { kind: 'message', messageType: 'attachment' },
  'message-ig-post.json': { kind: 'message', messageType: 'share' },
  'message-ig-reel.json': { kind: 'message', messageType: 'share' },
  'message-ig-story.json': { kind: 'message', messageType: 'share' },
  'message-image.json': { kind: 'message', messageType: 'attachment' },
  'message-share.json': { kind: 'message', messageType: 'share' },
  'message-text.json': { kind: 'message', messageType: 'text' },
  'message-unsupported.json': { kind: 'message', messageType: 'unsupported' },
  'message-video.json': { kind: 'message', messageType: 'attachment' },
  'postback.json': { kind: 'postback' },
  'quick-reply.json': { kind: 'message', messageType: 'text' },
  'reaction.json': { kind: 'reaction' },
  'read.json': { kind: 'read' },
  'referral-ad-message.json': { kind: 'message', messageType: 'text' },
  'referral.json': { kind: 'referral' },
  'reply-to-message.json': { kind: 'message', messageType: 'text' },
  'standby.json': { kind: 'message', messageType: 'text' },
  'story-mention.json': { kind: 'message', messageType: 'story_mention' },
  'story-reply.json': { kind: 'message', messageType: 'story_reply' },
  'unreaction.json': { kind: 'reaction' },
  'unsend.json': { kind: 'unsend' },
};

describe('parseDelivery', () => {
  const files = readdirSync(PAYLOADS).filter((f) => f.endsWith('.json'));

  it('should know every payload file', () => {
    expect(files.filter((f) => f !== 'batch-two-accounts.json').sort()).toEqual(
      Object.keys(EXPECTED).sort(),
    );
  });

  it.each(Object.entries(EXPECTED))('should classify %s', (file, expected) => {
    const event = only(file);
    expect(event.kind).toBe(expected.kind);
    if (expected.messageType && event.kind === 'message')
      expect(event.messageType).toBe(expected.messageType);
    if (expected.reason && event.kind === 'ignored') expect(event.reason).toBe(expected.reason);
  });

  it('should accept every payload file as a webhook body', () => {
    for (const f of files) expect(isWebhookBody(load(f))).toBe(true);
  });

  it('should parse every entry and event of a batch for two accounts', () => {
    const events = parseDelivery(load('batch-two-accounts.json'));
    expect(events.map((e) => [e.kind, e.entryId])).toEqual([
      ['message', '17841400000000001'],
      ['read', '17841400000000001'],
      ['message', '17841400000000002'],
      ['message', '17841400000000002'],
      ['reaction', '17841400000000001'],
      ['message', '17841400000000002'],
    ]);
    expect(entryIds(load('batch-two-accounts.json'))).toEqual([
      '17841400000000001',
      '17841400000000002',
    ]);
  });

  it('should route by entry id first, then recipient and sender', () => {
    const event = only('echo.json');
    expect(event.routingIds).toEqual(['17841400000000001', '1234567890123456']);
    if (event.kind !== 'message') throw new Error('expected a message');
    expect(event.isEcho).toBe(true);
    expect(event.timestamp).toBe(1767268020000);
  });

  it('should keep text, quick reply, reply_to and referral of messages', () => {
    const qr = only('quick-reply.json');
    expect(qr).toMatchObject({
      kind: 'message',
      text: 'Track my order',
      quickReply: { payload: 'QR_TRACK_ORDER' },
    });
    const reply = only('reply-to-message.json');
    expect(reply).toMatchObject({ replyTo: { mid: expect.stringMatching(/^aWdf/) } });
    const story = only('story-reply.json');
    expect(story).toMatchObject({
      messageType: 'story_reply',
      replyTo: { story: { id: '18000000000000032', url: expect.stringContaining('lookaside') } },
    });
    const ad = only('referral-ad-message.json');
    expect(ad).toMatchObject({
      referral: { source: 'ADS', ad_id: '120200000000000001', ref: 'campaign_42' },
    });
  });

  it('should normalise attachments of every type', () => {
    const post = only('message-ig-post.json');
    expect(post).toMatchObject({
      attachments: [
        {
          type: 'ig_post',
          title: 'New spring collection is live \u2728',
          media_id: '18000000000000022',
        },
      ],
    });
    const reel = only('message-ig-reel.json');
    expect(reel).toMatchObject({
      attachments: [{ type: 'ig_reel', media_id: '18000000000000023' }],
    });
    const story = only('message-ig-story.json');
    expect(story).toMatchObject({
      attachments: [
        {
          type: 'ig_story',
          media_id: '18000000000000024',
          url: expect.stringContaining('asset_id'),
        },
      ],
    });
    const echo = only('echo-attachment.json');
    expect(echo.kind === 'message' && echo.attachments).toHaveLength(2);
    for (const f of [
      'message-image.json',
      'message-video.json',
      'message-audio.json',
      'story-mention.json',
    ]) {
      const e = only(f);
      expect(e.kind === 'message' && e.attachments[0].url).toMatch(/^https:\/\/lookaside/);
    }
  });

  it('should parse edits with and without text', () => {
    expect(only('edit.json')).toMatchObject({
      kind: 'edit',
      text: 'Yes, that one please, size M',
      numEdit: 1,
    });
    const bare = only('edit-observed-no-text.json');
    expect(bare).toMatchObject({ kind: 'edit', numEdit: 0 });
    expect(bare).not.toHaveProperty('text');
  });

  it('should parse reactions, reads, postbacks, referrals and standby', () => {
    expect(only('reaction.json')).toMatchObject({
      action: 'react',
      reaction: 'love',
      emoji: '\u2764\ufe0f',
    });
    expect(only('unreaction.json')).toMatchObject({ action: 'unreact' });
    expect(only('read.json')).toMatchObject({ kind: 'read', mid: expect.stringMatching(/^aWdf/) });
    expect(only('postback.json')).toMatchObject({
      title: 'What are your opening hours?',
      payload: 'ICEBREAKER_HOURS',
      mid: expect.stringMatching(/^aWdf/),
    });
    expect(only('referral.json')).toMatchObject({
      mid: 'referral:2345678901234567:1767268440000',
      referral: { ref: 'spring_sale_2026', source: 'SHORTLINKS' },
    });
    expect(only('standby.json')).toMatchObject({
      kind: 'message',
      isStandby: true,
      text: 'Anyone there?',
    });
  });

  it('should read comment fields with entry.time in seconds', () => {
    expect(only('comment-own.json')).toMatchObject({
      kind: 'comment',
      commentId: '17890000000000004',
      parentId: '17890000000000001',
      from: { id: '17841400000000001', self_ig_scoped_id: '9876543210987654' },
      timestamp: 1767268860000,
    });
    expect(only('live-comment.json')).toMatchObject({
      field: 'live_comments',
      media: { id: '18000000000000105' },
    });
    expect(only('mention-in-comment.json')).toMatchObject({
      mediaId: '18000000000000106',
      commentId: '17890000000000006',
    });
  });

  it('should accept a flat field/value entry and ignore unknown events', () => {
    const flat = parseDelivery({
      object: 'instagram',
      entry: [{ id: '1', time: 1767268680, field: 'comments', value: { id: 'c1', text: 'x' } }],
    });
    expect(flat).toMatchObject([{ kind: 'comment', commentId: 'c1' }]);
    const odd = parseDelivery({
      object: 'instagram',
      entry: [
        {
          id: '1',
          time: 1,
          messaging: [{ sender: { id: 'u' }, recipient: { id: '1' }, timestamp: 1, foo: {} }, 'x'],
        },
      ],
    });
    expect(odd.map((e) => e.kind)).toEqual(['ignored', 'ignored']);
  });

  it('should convert seconds and strings to ms', () => {
    expect(toMillis('1527459824')).toBe(1527459824000);
    expect(toMillis(1767268620275)).toBe(1767268620275);
    expect(toMillis('nope', 5)).toBe(5);
  });

  it('should reject bodies without object and entry[]', () => {
    expect(isWebhookBody([])).toBe(false);
    expect(isWebhookBody({ object: 'instagram' })).toBe(false);
    expect(isWebhookBody({ object: 'instagram', entry: {} })).toBe(false);
    expect(parseDelivery({ entry: [] })).toEqual([]);
  });

  it('should fall back when a timestamp is beyond any date', () => {
    expect(toMillis(8.9e68, 42)).toBe(42);
    expect(toMillis(1e16, 42)).toBe(42);
    expect(toMillis(1_700_000_000, 42)).toBe(1_700_000_000_000);
  });

  describe('storable', () => {
    it('should escape keys a database refuses and cut off deep nesting', () => {
      let deep: unknown = 'bottom';
      for (let i = 0; i < 200; i += 1) deep = { d: deep };
      const out = storable({
        $gt: 1,
        'a.b': { $where: 'x' },
        ok: [{ $in: [1] }],
        grid: [[1, [2]]],
        deep,
      }) as Record<string, unknown>;
      expect(out).toMatchObject({
        '\uFF04gt': 1,
        'a\uFF0Eb': { '\uFF04where': 'x' },
        ok: [{ '\uFF04in': [1] }],
        grid: [{ nested_array: [1, { nested_array: [2] }] }],
      });
      expect(JSON.stringify(out)).not.toMatch(/"\$|"[^"]*\.[^"]*":/);
      expect(JSON.stringify(out)).toContain('[nested too deep]');
      expect(Object.getPrototypeOf(storable(JSON.parse('{"__proto__":{"x":1}}')))).toBe(
        Object.prototype,
      );
    });

    it('should keep a message whose payload carries $-keys, with the keys escaped in raw', () => {
      const [event] = parseDelivery({
        object: 'instagram',
        entry: [
          {
            id: '17841400000000001',
            time: 1_700_000_000_000,
            messaging: [
              {
                sender: { id: '900', $gt: { polluted: 'yes' } },
                recipient: { id: '17841400000000001' },
                timestamp: 1_700_000_000_000,
                message: { mid: 'm1', text: 'hi', $where: 'x' },
              },
            ],
          },
        ],
      });
      expect(event).toMatchObject({ kind: 'message', mid: 'm1', text: 'hi' });
      expect((event as { raw: Record<string, unknown> }).raw).toEqual({
        mid: 'm1',
        text: 'hi',
        '\uFF04where': 'x',
      });
    });
  });
});
