import type {
  CommentEvent,
  MessageEvent,
  ParsedAttachment,
  ParsedEvent,
  ParsedMessageType,
} from '../dms/events/ingest-event.types';

/**
 * Meta's webhook body → typed events (webhooks.md §9). Pure: no I/O, no clock. Every entry and
 * every event of `messaging[]`, `standby[]` and `changes[]` (and a flat `field`/`value` on the
 * entry) becomes one event; shapes it does not know become `ignored` events, never errors.
 */

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** ms since epoch from a number or numeric string that may be seconds (changes, dashboard tests). */
const MAX_DATE_MS = 8.64e15;

export function toMillis(v: unknown, fallback = 0): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0) return fallback;
  const ms = n < 1e11 ? Math.round(n * 1000) : Math.round(n);
  // Beyond what a Date holds (year 275 760) the value is garbage, not a time.
  return ms > MAX_DATE_MS ? fallback : ms;
}

/** The envelope a delivery must have to be accepted (else 400). */
export function isWebhookBody(body: unknown): body is { object: string; entry: unknown[] } {
  return isObj(body) && typeof body.object === 'string' && Array.isArray(body.entry);
}

/** Business account ids named by the entries (for the delivery record). */
export function entryIds(body: unknown): string[] {
  if (!isWebhookBody(body)) return [];
  const ids = body.entry
    .map((e) => (isObj(e) ? str(e.id) : undefined))
    .filter((id): id is string => !!id);
  return [...new Set(ids)];
}

const SHARE_TYPES = new Set(['share', 'ig_post', 'ig_reel', 'reel', 'ig_story', 'story']);

export function parseAttachment(a: unknown): ParsedAttachment | null {
  if (!isObj(a) || typeof a.type !== 'string') return null;
  const p = isObj(a.payload) ? a.payload : {};
  const out: ParsedAttachment = { type: a.type };
  const set = (key: keyof ParsedAttachment, value: string | undefined) => {
    if (value !== undefined && value !== '') out[key] = value;
  };
  switch (a.type) {
    case 'ig_post':
      set('url', str(p.url));
      set('title', str(p.title));
      set('media_id', str(p.ig_post_media_id) ?? str(p.media_id) ?? str(p.id));
      break;
    case 'ig_reel':
    case 'reel':
      set('url', str(p.url));
      set('title', str(p.title));
      set('media_id', str(p.reel_video_id) ?? str(p.video_id) ?? str(p.id));
      break;
    case 'ig_story':
    case 'story':
      set('url', str(p.story_media_url) ?? str(p.url));
      set('media_id', str(p.story_media_id) ?? str(p.id));
      break;
    case 'template': {
      const generic = isObj(p.generic) ? p.generic : undefined;
      set('title', str(generic?.title) ?? str(p.title));
      set('url', str(p.url));
      break;
    }
    default:
      set('url', str(p.url));
      set('title', str(p.title));
  }
  return out;
}

export function classifyMessage(m: {
  text: string | null;
  attachments: ParsedAttachment[];
  replyTo?: MessageEvent['replyTo'];
  isUnsupported: boolean;
}): ParsedMessageType {
  const types = m.attachments.map((a) => a.type);
  if (types.includes('story_mention')) return 'story_mention';
  if (m.replyTo?.story) return 'story_reply';
  if (m.isUnsupported || (types.length > 0 && types.every((t) => t === 'unsupported_type'))) {
    return 'unsupported';
  }
  if (types.some((t) => SHARE_TYPES.has(t))) return 'share';
  if (types.length > 0) return 'attachment';
  if (m.text !== null) return 'text';
  return 'unsupported';
}

interface Ctx {
  entryId: string;
  entryTime: number;
  isStandby: boolean;
}

function parseMessaging(ev: unknown, ctx: Ctx): ParsedEvent {
  const baseIgnored = { kind: 'ignored' as const, entryId: ctx.entryId, routingIds: [ctx.entryId] };
  if (!isObj(ev)) return { ...baseIgnored, reason: 'invalid' };
  const senderId = isObj(ev.sender) ? (str(ev.sender.id) ?? '') : '';
  const recipientId = isObj(ev.recipient) ? (str(ev.recipient.id) ?? '') : '';
  const routingIds = [...new Set([ctx.entryId, recipientId, senderId].filter((id) => id !== ''))];
  const base = {
    entryId: ctx.entryId,
    routingIds,
    senderId,
    recipientId,
    timestamp: toMillis(ev.timestamp, ctx.entryTime),
    isStandby: ctx.isStandby,
  };
  const ignored = (reason: 'handover' | 'optin' | 'unknown' | 'invalid') =>
    ({ kind: 'ignored', entryId: ctx.entryId, routingIds, reason }) as const;

  if (isObj(ev.message)) {
    const m = ev.message;
    const mid = str(m.mid);
    if (!mid) return ignored('invalid');
    if (m.is_deleted === true) return { ...base, kind: 'unsend', mid };
    const text = typeof m.text === 'string' ? m.text : null;
    const attachments = arr(m.attachments)
      .map(parseAttachment)
      .filter((a): a is ParsedAttachment => a !== null);
    // Messenger-style single `attachment` (seen in some fixtures).
    if (attachments.length === 0 && isObj(m.attachment)) {
      const single = parseAttachment(m.attachment);
      if (single) attachments.push(single);
    }
    let replyTo: MessageEvent['replyTo'];
    if (isObj(m.reply_to)) {
      const r = m.reply_to;
      replyTo = {};
      if (str(r.mid)) replyTo.mid = str(r.mid);
      if (isObj(r.story)) replyTo.story = { id: str(r.story.id), url: str(r.story.url) };
    }
    const isUnsupported = m.is_unsupported === true;
    const event: MessageEvent = {
      ...base,
      kind: 'message',
      mid,
      isEcho: m.is_echo === true,
      text,
      attachments,
      isUnsupported,
      isSelf: m.is_self === true,
      messageType: classifyMessage({ text, attachments, replyTo, isUnsupported }),
      raw: m,
    };
    if (replyTo) event.replyTo = replyTo;
    if (isObj(m.quick_reply)) event.quickReply = { payload: str(m.quick_reply.payload) };
    if (isObj(m.referral)) event.referral = m.referral;
    return event;
  }
  if (isObj(ev.message_edit)) {
    const e = ev.message_edit;
    const mid = str(e.mid);
    if (!mid) return ignored('invalid');
    const numEdit = Number(e.num_edit ?? 0);
    return {
      ...base,
      kind: 'edit',
      mid,
      numEdit: Number.isFinite(numEdit) ? numEdit : 0,
      ...(typeof e.text === 'string' ? { text: e.text } : {}),
    };
  }
  if (isObj(ev.reaction)) {
    const r = ev.reaction;
    const mid = str(r.mid);
    if (!mid) return ignored('invalid');
    return {
      ...base,
      kind: 'reaction',
      mid,
      action: r.action === 'unreact' ? 'unreact' : 'react',
      ...(str(r.reaction) ? { reaction: str(r.reaction) } : {}),
      ...(str(r.emoji) ? { emoji: str(r.emoji) } : {}),
    };
  }
  if (isObj(ev.read)) {
    const mid = str(ev.read.mid);
    if (!mid) return ignored('invalid'); // Messenger's watermark-only reads: nothing to target
    return { ...base, kind: 'read', mid };
  }
  if (isObj(ev.postback)) {
    const p = ev.postback;
    return {
      ...base,
      kind: 'postback',
      mid: str(p.mid) ?? `postback:${senderId}:${base.timestamp}`,
      ...(str(p.title) !== undefined ? { title: str(p.title) } : {}),
      ...(str(p.payload) !== undefined ? { payload: str(p.payload) } : {}),
      ...(isObj(p.referral) ? { referral: p.referral } : {}),
      raw: p,
    };
  }
  if (isObj(ev.referral)) {
    return {
      ...base,
      kind: 'referral',
      mid: `referral:${senderId}:${base.timestamp}`,
      referral: ev.referral,
    };
  }
  if (isObj(ev.optin)) return ignored('optin');
  if (
    isObj(ev.pass_thread_control) ||
    isObj(ev.take_thread_control) ||
    isObj(ev.request_thread_control)
  ) {
    return ignored('handover');
  }
  return ignored('unknown');
}

function parseChange(change: unknown, ctx: Ctx): ParsedEvent {
  const routingIds = [ctx.entryId];
  if (!isObj(change))
    return { kind: 'ignored', entryId: ctx.entryId, routingIds, reason: 'invalid' };
  const field = str(change.field);
  const value = isObj(change.value) ? change.value : {};
  if (field === 'comments' || field === 'live_comments') {
    const commentId = str(value.id) ?? str(value.comment_id);
    if (!commentId) return { kind: 'ignored', entryId: ctx.entryId, routingIds, reason: 'invalid' };
    const from = isObj(value.from)
      ? {
          id: str(value.from.id),
          username: str(value.from.username),
          self_ig_scoped_id: str(value.from.self_ig_scoped_id),
        }
      : undefined;
    const event: CommentEvent = {
      kind: 'comment',
      entryId: ctx.entryId,
      routingIds,
      field,
      commentId,
      timestamp: ctx.entryTime,
      raw: value,
    };
    if (typeof value.text === 'string') event.text = value.text;
    if (from)
      event.from = Object.fromEntries(Object.entries(from).filter(([, v]) => v !== undefined));
    if (isObj(value.media)) event.media = value.media;
    if (str(value.parent_id)) event.parentId = str(value.parent_id);
    return event;
  }
  if (field === 'mentions') {
    return {
      kind: 'mention',
      entryId: ctx.entryId,
      routingIds,
      mediaId: str(value.media_id),
      commentId: str(value.comment_id),
      timestamp: ctx.entryTime,
    };
  }
  if (field === 'messages') {
    // Messaging events delivered in `changes` form (the IG-Login dashboard test uses it).
    return parseMessaging(value, ctx);
  }
  return { kind: 'ignored', entryId: ctx.entryId, routingIds, reason: 'unsupported_field' };
}

/** Every event of every entry, in delivery order. */
/** Deeper than this, a stored value becomes a marker string (MongoDB nests at most 100 levels). */
const MAX_STORED_DEPTH = 32;

/**
 * A copy of untrusted JSON that any MongoDB-wire server stores: keys starting with `$` or
 * holding `.` or NUL are escaped (`$` → `＄`, `.` → `．`), `__proto__` is kept as a plain key,
 * an array inside an array becomes `{nested_array: […]}`, and anything nested deeper than MAX_STORED_DEPTH is replaced. Parsed events carry parts of the
 * body (`raw`, `referral`, comment `from`/`media`) into documents, so the body is made storable
 * before parsing: a hostile or odd payload is stored, never a processing failure.
 */
export function storable(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_STORED_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) {
    // FerretDB v1 refuses an array directly inside an array: the inner one gets wrapped.
    return value.map((v) =>
      Array.isArray(v) ? { nested_array: storable(v, depth + 1) } : storable(v, depth + 1),
    );
  }
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const safeKey = key.replace(/^\$/, '\uFF04').replace(/\./g, '\uFF0E').replace(/\0/g, '');
    out[safeKey] = storable(v, depth + 1);
  }
  return { ...out };
}

export function parseDelivery(input: unknown): ParsedEvent[] {
  const body = storable(input);
  if (!isWebhookBody(body)) return [];
  const events: ParsedEvent[] = [];
  for (const entry of body.entry) {
    if (!isObj(entry)) continue;
    const entryId = str(entry.id) ?? '';
    const isChanges = Array.isArray(entry.changes) || typeof entry.field === 'string';
    // entry.time: ms for messaging, seconds for changes; toMillis tells them apart by size.
    const entryTime = toMillis(entry.time);
    const entryEvents: ParsedEvent[] = [];
    for (const ev of arr(entry.messaging)) {
      entryEvents.push(parseMessaging(ev, { entryId, entryTime, isStandby: false }));
    }
    for (const ev of arr(entry.standby)) {
      entryEvents.push(parseMessaging(ev, { entryId, entryTime, isStandby: true }));
    }
    for (const ch of arr(entry.changes)) {
      entryEvents.push(parseChange(ch, { entryId, entryTime, isStandby: false }));
    }
    if (!Array.isArray(entry.changes) && isChanges) {
      entryEvents.push(
        parseChange(
          { field: entry.field, value: entry.value },
          { entryId, entryTime, isStandby: false },
        ),
      );
    }
    // App Dashboard "Test" deliveries carry entry.id "0": acknowledged and recorded only.
    if (entryId === '0') {
      for (const _ of entryEvents) {
        events.push({ kind: 'ignored', entryId, routingIds: [entryId], reason: 'dashboard_test' });
      }
      continue;
    }
    events.push(...entryEvents);
  }
  return events;
}
