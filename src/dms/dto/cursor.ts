import { HttpStatus, PipeTransform } from '@nestjs/common';
import { ApiParam } from '@nestjs/swagger';
import { Types } from 'mongoose';
import { OBJECT_ID, OBJECT_ID_PATTERN } from '../../common/api-properties';
import { AppError } from '../../common/errors/app-error';

/** `<platform_account_id>:<customer_id>` without anchors, shared by paths and cursors. */
const CONVERSATION_ID_BODY = '[0-9a-f]{24}:[0-9A-Za-z_.-]{1,64}';
export const CONVERSATION_ID_PATTERN = `^${CONVERSATION_ID_BODY}$`;

/** Meta's comment id (digits today; letters, `_`, `.` and `-` tolerated), shared by paths and cursors. */
const COMMENT_ID_BODY = '[0-9A-Za-z_.-]{1,64}';
export const COMMENT_ID_PATTERN = `^${COMMENT_ID_BODY}$`;

/**
 * Keyset cursors read `<sort date in ms>.<tie-breaker _id>`, a form a pattern describes exactly,
 * so the OpenAPI document can say which cursors are valid (any opaque form would leave clients and
 * fuzzers only "a string", most of which the server refuses).
 */
export const DM_CURSOR_PATTERN = '^[0-9]{1,15}\\.[0-9a-fA-F]{24}$';
export const CONVERSATION_CURSOR_PATTERN = `^[0-9]{1,15}\\.${CONVERSATION_ID_BODY}$`;
export const COMMENT_CURSOR_PATTERN = `^[0-9]{1,15}\\.${COMMENT_ID_BODY}$`;

/** Keyset position: the sort key of the last item of a page. */
export interface Keyset {
  /** Sort date in ms. */
  t: number;
  /** Tie-breaker: the `_id` (ObjectId hex for DMs, string for conversations and comments). */
  id: string;
}

export type CursorKind = 'dm' | 'conversation' | 'comment';

const CURSOR_FORMS: Record<CursorKind, { cursor: RegExp; id: RegExp }> = {
  dm: { cursor: new RegExp(DM_CURSOR_PATTERN), id: OBJECT_ID },
  conversation: {
    cursor: new RegExp(CONVERSATION_CURSOR_PATTERN),
    id: new RegExp(CONVERSATION_ID_PATTERN),
  },
  comment: { cursor: new RegExp(COMMENT_CURSOR_PATTERN), id: new RegExp(COMMENT_ID_PATTERN) },
};

export function encodeCursor(k: Keyset): string {
  return `${k.t}.${k.id}`;
}

/** A cursor issued before the readable form: base64url JSON `{ t, id }`. */
function decodeLegacyCursor(cursor: string): Keyset | null {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<Keyset>;
    if (
      typeof parsed.t === 'number' &&
      Number.isFinite(parsed.t) &&
      !Number.isNaN(new Date(parsed.t).getTime()) &&
      typeof parsed.id === 'string'
    ) {
      return { t: parsed.t, id: parsed.id };
    }
  } catch {
    // not one either
  }
  return null;
}

export function decodeCursor(cursor: string, kind: CursorKind): Keyset {
  const form = CURSOR_FORMS[kind];
  if (form.cursor.test(cursor)) {
    const dot = cursor.indexOf('.');
    return { t: Number(cursor.slice(0, dot)), id: cursor.slice(dot + 1) };
  }
  // Still read, so a dashboard paging across an upgrade does not fail its next page.
  const legacy = decodeLegacyCursor(cursor);
  if (legacy && form.id.test(legacy.id)) return legacy;
  throw new AppError(
    HttpStatus.BAD_REQUEST,
    'INVALID_CURSOR',
    'Invalid cursor: pass next_cursor of the previous page as it is',
  );
}

/** `:id` that must be an ObjectId; the reference answers 400 "Invalid DM ID". */
export class ObjectIdPipe implements PipeTransform<string, string> {
  constructor(private readonly message = 'Invalid DM ID') {}
  transform(value: string): string {
    if (typeof value !== 'string' || !OBJECT_ID.test(value)) {
      throw new AppError(HttpStatus.BAD_REQUEST, 'INVALID_ID', this.message);
    }
    return value;
  }
}

/** Documents a path parameter read through {@link ObjectIdPipe}: same pattern. */
export const ApiObjectIdParam = (name: string, description: string) =>
  ApiParam({
    name,
    description,
    schema: { type: 'string', pattern: OBJECT_ID_PATTERN },
    example: '65a1f0c2e4b0a1b2c3d4e5f6',
  });

export const toObjectId = (hex: string): Types.ObjectId => new Types.ObjectId(hex);
