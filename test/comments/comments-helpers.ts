import { randomInt } from 'node:crypto';
import type { TestApp } from '../support/e2e';
import { eventually } from '../support/wait';
import { postWebhook } from '../webhook/webhook-helpers';

let seq = 0;

/** A fresh Meta-looking comment or media id (digits, unique in the process). */
export function newCommentId(prefix = '1789'): string {
  seq += 1;
  return `${prefix}${String(randomInt(1e8)).padStart(8, '0')}${String(seq).padStart(5, '0')}`;
}

export interface CommentSpec {
  /** The business's Instagram id (entry.id). */
  igId: string;
  id?: string;
  mediaId: string;
  productType?: string;
  ad?: { ad_id: string; ad_title: string };
  from: { id: string; username: string; self_ig_scoped_id?: string };
  text: string;
  parentId?: string;
  /** When the comment was made (ms); Meta sends seconds in entry.time. */
  at: number;
}

/** A `comments` webhook as Meta posts it (comment-on-ad.json's shape), signed. */
export async function postComment(app: TestApp, spec: CommentSpec): Promise<string> {
  const id = spec.id ?? newCommentId();
  const value: Record<string, unknown> = {
    from: spec.from,
    media: {
      id: spec.mediaId,
      media_product_type: spec.productType ?? 'FEED',
      ...(spec.ad ?? {}),
    },
    id,
    text: spec.text,
  };
  if (spec.parentId) value.parent_id = spec.parentId;
  const body = JSON.stringify({
    entry: [
      {
        id: spec.igId,
        time: Math.floor(spec.at / 1000),
        changes: [{ value, field: 'comments' }],
      },
    ],
    object: 'instagram',
  });
  await postWebhook(app, body).expect(200);
  return id;
}

/** Waits until the comment is stored. */
export function commentStored(app: TestApp, id: string) {
  return eventually(() =>
    app.connection.db!.collection('instagram_comments').findOne({ _id: id as never }),
  );
}

/** GET /instagram-comments as `userId`, expecting 200; the reply body. */
export async function listComments(
  app: TestApp,
  userId: string,
  query: Record<string, string | number | boolean> = {},
) {
  const res = await app.http().get('/instagram-comments').query(query).set(app.bearer(userId));
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  return res.body as {
    success: true;
    data: Record<string, any>[];
    total: number | null;
    limit: number;
    skip: number;
    next_cursor: string | null;
  };
}

/** Every page of a listing, following next_cursor; the ids in order. */
export async function allPages(
  app: TestApp,
  userId: string,
  query: Record<string, string | number | boolean>,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page = await listComments(app, userId, {
      ...query,
      ...(cursor ? { cursor, with_total: false } : {}),
    });
    pages += 1;
    ids.push(...page.data.map((c) => c._id as string));
    cursor = page.next_cursor;
    if (pages > 50) throw new Error('paging does not end');
  } while (cursor);
  return { ids, pages };
}
