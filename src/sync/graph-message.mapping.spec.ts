import type { RoutedAccount } from '../accounts/accounts.types';
import { refreshAttachmentUrls } from '../dms/attachments.mapping';
import type { GraphMessage } from '../instagram-graph/instagram-graph.types';
import { draftFromGraph, graphTimeMs } from './graph-message.mapping';

const account: RoutedAccount = {
  accountId: '65a1f0c2e4b0a1b2c3d4e5f6',
  userId: 'user_1',
  igId: '17841400000000001',
  name: 'Shop',
  ingestEnabled: true,
  status: 'active',
};
const customer = '900000000000101';
const fetchedAt = new Date('2026-01-01T12:00:00Z');

function message(extra: Partial<GraphMessage>): GraphMessage {
  return {
    id: 'mid.1',
    created_time: '2026-01-01T11:35:07+0000',
    from: { id: customer, username: 'ana' },
    to: { data: [{ id: account.igId, username: 'shop' }] },
    ...extra,
  };
}

describe('Graph message mapping', () => {
  it('should read Graph times with a +0000 offset', () => {
    expect(graphTimeMs('2026-01-01T11:35:07+0000')).toBe(Date.UTC(2026, 0, 1, 11, 35, 7));
    expect(graphTimeMs('not a time')).toBeNull();
  });

  it('should store an inbound text like the webhook does', () => {
    expect(draftFromGraph(message({ message: 'Hi!' }), account, 'import', { fetchedAt })).toEqual(
      expect.objectContaining({
        platform_account_id: account.accountId,
        user_id: 'user_1',
        sender_id: customer,
        recipient_id: account.igId,
        customer_id: customer,
        message_id: 'mid.1',
        text: 'Hi!',
        direction: 'inbound',
        read: false,
        message_type: 'text',
        recipient_name: 'Shop',
        source: 'import',
      }),
    );
  });

  it('should make the recipient the customer of an outbound message', () => {
    const draft = draftFromGraph(
      message({
        from: { id: account.igId },
        to: { data: [{ id: customer }] },
        message: 'Hello',
      }),
      account,
      'reconcile',
      { fetchedAt },
    );
    expect(draft).toMatchObject({
      direction: 'outbound',
      customer_id: customer,
      recipient_id: customer,
      sender_name: 'Shop',
      read: true,
      is_echo: false,
    });
  });

  it('should map media, shares, story mentions and story replies', () => {
    const draft = draftFromGraph(
      message({
        message: '',
        attachments: {
          data: [{ image_data: { url: 'https://cdn/1' } }, { file_url: 'https://cdn/2' }],
        },
        shares: { data: [{ link: 'https://cdn/post', name: 'A post' }] },
      }),
      account,
      'import',
      { fetchedAt },
    )!;
    expect(draft.text).toBeNull();
    expect(draft.message_type).toBe('share');
    expect(draft.attachments).toEqual([
      { type: 'image', url: 'https://cdn/1', url_fetched_at: fetchedAt },
      { type: 'file', url: 'https://cdn/2', url_fetched_at: fetchedAt },
      { type: 'share', url: 'https://cdn/post', title: 'A post', url_fetched_at: fetchedAt },
    ]);
    const mention = draftFromGraph(
      message({ story: { mention: { link: 'https://cdn/story', id: '1800' } } }),
      account,
      'import',
      { fetchedAt },
    )!;
    expect(mention.message_type).toBe('story_mention');
    const reply = draftFromGraph(
      message({ message: 'nice', story: { reply_to: { link: 'https://cdn/s', id: '18' } } }),
      account,
      'import',
      { fetchedAt },
    )!;
    expect(reply).toMatchObject({
      message_type: 'story_reply',
      reply_to: { story: { id: '18', url: 'https://cdn/s' } },
    });
  });

  it('should skip a message Graph gave no details for', () => {
    expect(
      draftFromGraph(
        { id: 'mid.old', created_time: '2026-01-01T11:35:07+0000' },
        account,
        'import',
        {
          fetchedAt,
        },
      ),
    ).toBeNull();
  });

  it('should give each stored attachment the fresh URL of its group and position', () => {
    const stored = [
      { type: 'image', url: 'https://old/1' },
      { type: 'like_heart' },
      { type: 'ig_reel', url: 'https://old/reel', title: 'Reel' },
      { type: 'video', url: 'https://old/2' },
    ];
    const { attachments, refreshed } = refreshAttachmentUrls(
      stored,
      message({
        attachments: {
          data: [
            { image_data: { url: 'https://new/1' } },
            { video_data: { url: 'https://new/2' } },
          ],
        },
        shares: { data: [{ link: 'https://new/reel' }] },
      }),
      fetchedAt,
    );
    expect(refreshed).toEqual([0, 2, 3]);
    expect(attachments).toEqual([
      { type: 'image', url: 'https://new/1', url_fetched_at: fetchedAt },
      { type: 'like_heart' },
      { type: 'ig_reel', url: 'https://new/reel', title: 'Reel', url_fetched_at: fetchedAt },
      { type: 'video', url: 'https://new/2', url_fetched_at: fetchedAt },
    ]);
  });
});
