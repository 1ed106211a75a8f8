import type { GraphMessage, MessageAttachment } from '../instagram-graph/instagram-graph.types';
import type { DmAttachment } from './schemas/instagram-dm.schema';

/**
 * Graph's message object and the webhook describe the same attachments in different shapes:
 * the webhook as `attachments[{type, payload.url}]`, Graph as `attachments.data` (image, video,
 * audio, file), `shares.data` (posts, reels, links) and `story.mention`. Each stored attachment is
 * matched to Graph's by its group and its position inside the group.
 */
type Group = 'media' | 'share' | 'story_mention';

const MEDIA = new Set(['image', 'video', 'audio', 'file', 'animated_image']);
const SHARES = new Set(['share', 'ig_post', 'ig_reel', 'reel', 'ig_story', 'story']);

function groupOf(type: string): Group | null {
  if (MEDIA.has(type)) return 'media';
  if (SHARES.has(type)) return 'share';
  if (type === 'story_mention') return 'story_mention';
  return null;
}

function mediaType(a: MessageAttachment): string {
  if (a.image_data) return 'image';
  if (a.video_data) return 'video';
  const mime = typeof a.mime_type === 'string' ? a.mime_type : '';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  return 'file';
}

function mediaUrl(a: MessageAttachment): string | undefined {
  return a.image_data?.url ?? a.video_data?.url ?? a.file_url ?? undefined;
}

/** Graph's attachments by group, in Graph's order. */
function graphGroups(m: GraphMessage): Record<Group, DmAttachment[]> {
  const media = (m.attachments?.data ?? []).map((a) => {
    const out: DmAttachment = { type: mediaType(a) };
    const url = mediaUrl(a);
    if (url) out.url = url;
    return out;
  });
  const share = (m.shares?.data ?? []).map((s) => {
    const out: DmAttachment = { type: 'share' };
    if (typeof s.link === 'string') out.url = s.link;
    if (typeof s.name === 'string' && s.name !== '') out.title = s.name;
    return out;
  });
  const mention = m.story?.mention;
  const story: DmAttachment[] = mention
    ? [
        {
          type: 'story_mention',
          ...(mention.link ? { url: mention.link } : {}),
          ...(mention.id ? { media_id: mention.id } : {}),
        },
      ]
    : [];
  return { media, share, story_mention: story };
}

/** The attachments of a message read from Graph, as a DM stores them. */
export function attachmentsFromGraph(m: GraphMessage, fetchedAt: Date): DmAttachment[] {
  const groups = graphGroups(m);
  return [...groups.media, ...groups.share, ...groups.story_mention].map((a) =>
    a.url ? { ...a, url_fetched_at: fetchedAt } : a,
  );
}

/**
 * The stored attachments with the URLs of a fresh Graph read. An attachment Graph does not show
 * (any more) keeps its URL; `refreshed` lists the positions that got a new one.
 */
export function refreshAttachmentUrls(
  stored: DmAttachment[],
  m: GraphMessage,
  fetchedAt: Date,
): { attachments: DmAttachment[]; refreshed: number[] } {
  const groups = graphGroups(m);
  const seen: Record<Group, number> = { media: 0, share: 0, story_mention: 0 };
  const refreshed: number[] = [];
  const attachments = stored.map((a, index) => {
    const group = groupOf(a.type);
    if (!group) return a;
    const fresh = groups[group][seen[group]];
    seen[group] += 1;
    if (!fresh?.url) return a;
    refreshed.push(index);
    return { ...a, url: fresh.url, url_fetched_at: fetchedAt };
  });
  return { attachments, refreshed };
}
