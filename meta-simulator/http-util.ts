import type { IncomingMessage } from 'node:http';

export function readBody(req: IncomingMessage, limit = 10 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export type Params = Record<string, unknown>;

/** Graph accepts JSON bodies and form bodies whose `recipient`/`message`/`payload` members are
 * JSON strings (graph-api.md §1); both normalise to the same object. */
export function parseBody(raw: Buffer, contentType: string | undefined): Params {
  const text = raw.toString('utf8');
  if (!text.trim()) return {};
  const ct = (contentType ?? '').toLowerCase();
  if (ct.includes('application/json') || /^\s*[{[]/.test(text)) {
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
        ? (parsed as Params)
        : {};
    } catch {
      return { __invalid_json: text };
    }
  }
  if (ct.includes('multipart/form-data')) return parseMultipart(text, ct);
  return decodeJsonMembers(Object.fromEntries(new URLSearchParams(text)));
}

function parseMultipart(text: string, ct: string): Params {
  const boundary = /boundary=("?)([^";]+)\1/.exec(ct)?.[2];
  if (!boundary) return {};
  const out: Record<string, string> = {};
  for (const part of text.split(`--${boundary}`)) {
    const m = /name="([^"]+)"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n([\s\S]*?)\r?\n?$/.exec(part);
    if (m) out[m[1]] = m[2];
  }
  return decodeJsonMembers(out);
}

export function decodeJsonMembers(params: Record<string, string>): Params {
  const out: Params = { ...params };
  for (const key of ['recipient', 'message', 'payload']) {
    const v = params[key];
    if (typeof v === 'string' && /^\s*[{[]/.test(v)) {
      try {
        out[key] = JSON.parse(v);
      } catch {
        // left as a string: the handler reports it as an invalid parameter
      }
    }
  }
  return out;
}

export function queryOf(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams);
}

export interface FieldSpec {
  name: string;
  limit?: number;
  children?: FieldSpec[];
}

/** Parses Graph field expansion: `participants,messages.limit(20){id,from,message}`. */
export function parseFields(input: string | undefined): FieldSpec[] {
  if (!input) return [];
  const out: FieldSpec[] = [];
  let i = 0;
  const parseList = (): FieldSpec[] => {
    const list: FieldSpec[] = [];
    while (i < input.length) {
      const ch = input[i];
      if (ch === '}') {
        i++;
        return list;
      }
      if (ch === ',' || ch === ' ') {
        i++;
        continue;
      }
      list.push(parseOne());
    }
    return list;
  };
  const parseOne = (): FieldSpec => {
    let name = '';
    while (i < input.length && /[A-Za-z0-9_]/.test(input[i])) name += input[i++];
    const spec: FieldSpec = { name };
    while (input[i] === '.') {
      i++;
      let mod = '';
      while (i < input.length && /[A-Za-z_]/.test(input[i])) mod += input[i++];
      if (input[i] === '(') {
        const end = input.indexOf(')', i);
        const arg = input.slice(i + 1, end === -1 ? input.length : end);
        i = end === -1 ? input.length : end + 1;
        if (mod === 'limit') spec.limit = Math.max(0, parseInt(arg, 10) || 0);
      }
    }
    if (input[i] === '{') {
      i++;
      spec.children = parseList();
    }
    if (!name) i++;
    return spec;
  };
  out.push(...parseList());
  return out.filter((f) => f.name);
}

/** Graph's timestamp format: 2026-01-01T11:35:00+0000. */
export function graphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
