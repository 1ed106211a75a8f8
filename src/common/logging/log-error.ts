/**
 * The `err` of every log line: name, code and stack frames, nothing else. pino's standard
 * serializer copies every enumerable property, and errors carry their context there: an HTTP
 * client's error its request (headers with tokens) and the response body, an AppError its
 * details, a MongoServerError the document it refused. The stack's first line repeats the
 * message, which can quote those values too (a duplicate key, a URL), so the name stands in for it.
 */
export interface LoggedError {
  name: string;
  code?: string | number;
  stack?: string;
  cause?: { name: string; code?: string | number };
}

const FRAME = /^\s+at /;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function nameOf(error: Record<string, unknown>): string {
  if (typeof error.name === 'string' && error.name !== '') return error.name;
  // What pino's own serializer calls it, when it ran first (pino-http wraps ours in it).
  if (typeof error.type === 'string' && error.type !== '') return error.type;
  const ctor = (error as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'Error';
}

function codeOf(error: Record<string, unknown>): string | number | undefined {
  const code = error.code;
  return typeof code === 'string' || typeof code === 'number' ? code : undefined;
}

/** Strings (`err: errorName(e)`) and other scalars pass through; objects are cut down. */
export function errorForLog(value: unknown): unknown {
  if (!isObject(value)) return value;
  // pino-http hands us pino's serialization of the error; `raw` is the error itself.
  const error = isObject(value.raw) ? value.raw : value;
  const name = nameOf(error);
  const out: LoggedError = { name };
  const code = codeOf(error);
  if (code !== undefined) out.code = code;
  if (typeof error.stack === 'string') {
    const frames = error.stack.split('\n').filter((line) => FRAME.test(line));
    if (frames.length > 0) out.stack = [name, ...frames].join('\n');
  }
  if (isObject(error.cause)) {
    const causeCode = codeOf(error.cause);
    out.cause = {
      name: nameOf(error.cause),
      ...(causeCode !== undefined ? { code: causeCode } : {}),
    };
  }
  return out;
}
