import { HttpStatus, PipeTransform } from '@nestjs/common';
import { isValidObjectId, Types } from 'mongoose';
import { AppError } from '../../common/errors/app-error';

/** Keyset position: the sort key of the last item of a page. Opaque to clients (base64url JSON). */
export interface Keyset {
  /** Sort date in ms. */
  t: number;
  /** Tie-breaker: the `_id` (ObjectId hex for DMs, string for conversations). */
  id: string;
}

export function encodeCursor(k: Keyset): string {
  return Buffer.from(JSON.stringify(k), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): Keyset {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<Keyset>;
    if (
      typeof parsed.t === 'number' &&
      Number.isFinite(parsed.t) &&
      !Number.isNaN(new Date(parsed.t).getTime()) &&
      typeof parsed.id === 'string' &&
      parsed.id.length <= 200
    ) {
      return { t: parsed.t, id: parsed.id };
    }
  } catch {
    // fall through
  }
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
    if (typeof value !== 'string' || !/^[0-9a-fA-F]{24}$/.test(value) || !isValidObjectId(value)) {
      throw new AppError(HttpStatus.BAD_REQUEST, 'INVALID_ID', this.message);
    }
    return value;
  }
}

export const toObjectId = (hex: string): Types.ObjectId => new Types.ObjectId(hex);
