import mongoose from 'mongoose';
import { KEYSET_TOTAL_MESSAGE, TOTAL_DESCRIPTION } from '../../src/dms/dto/page-total';
import { createTestApp, newUserId, type TestApp } from '../support/e2e';
import { givenAccount } from '../support/factories';
import { givenConversation, givenDm } from './dms-helpers';

/** One operation mongoose sent to the database, as its debug hook reports it. */
interface SentQuery {
  collection: string;
  op: string;
  args: string;
}

/**
 * `total` of the list routes: exact on a first page unless the client turns it off, `null`
 * without counting on keyset pages. "Without counting" is read from the queries the app sends
 * (mongoose's debug hook, the one the suite's query recorder uses), not from the reply.
 */
describe('total and with_total of GET /instagram-dms/list and /conversations (e2e)', () => {
  let app: TestApp;
  const sent: SentQuery[] = [];

  beforeAll(async () => {
    app = await createTestApp();
    // A connection-level hook takes precedence over the global one: hand every call on to it,
    // so the suite's query recorder still sees this file's queries.
    app.connection.set(
      'debug',
      function (this: unknown, collection: string, op: string, ...args: unknown[]) {
        sent.push({ collection, op, args: safeJson(args) });
        const recorder: unknown = mongoose.get('debug');
        if (typeof recorder === 'function')
          (recorder as (...a: unknown[]) => void).apply(this, [collection, op, ...args]);
      },
    );
  });
  afterAll(async () => {
    app?.connection.set('debug', undefined);
    await app?.close();
  });

  function safeJson(value: unknown): string {
    try {
      return JSON.stringify(value) ?? '';
    } catch {
      return '';
    }
  }

  async function tenant() {
    const userId = newUserId();
    const account = await givenAccount(app, {
      userId,
      igId: `1784${Math.floor(Math.random() * 1e12)}`,
      accessToken: 'IGAA_T',
    });
    return { userId, accountId: account.accountId };
  }

  /** GET `path` as `userId`; the reply and the queries on `collection` that name `accountId`. */
  async function get(
    path: string,
    who: { userId: string; accountId: string },
    collection: string,
    status = 200,
  ) {
    const from = sent.length;
    const res = await app.http().get(path).set(app.bearer(who.userId)).expect(status);
    const queries = sent
      .slice(from)
      .filter((q) => q.collection === collection && q.args.includes(who.accountId));
    const isCount = (q: SentQuery) =>
      /count/i.test(q.op) || (q.op === 'aggregate' && /"\$(count|group)"/.test(q.args));
    return {
      body: res.body as {
        total: number | null;
        data: { _id: string }[];
        next_cursor: string | null;
        skip?: number;
        error?: { code: string; message: string; details: unknown };
      },
      counts: queries.filter(isCount).length,
      finds: queries.filter((q) => q.op === 'find').length,
    };
  }

  const ids = (body: { data: { _id: string }[] }) => body.data.map((d) => d._id);

  describe('GET /instagram-dms/list', () => {
    let a: { userId: string; accountId: string };
    /** Newest first, as the route lists them. */
    let newestFirst: string[];

    beforeAll(async () => {
      a = await tenant();
      const other = await tenant();
      const t0 = Date.now() - 3_600_000;
      const created: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const dm = await givenDm(app, {
          platform_account_id: a.accountId,
          created_at: new Date(t0 + i * 1000),
        });
        created.push(String(dm._id));
      }
      // Not counted: another tenant's DM, and a deleted one.
      await givenDm(app, { platform_account_id: other.accountId, created_at: new Date(t0) });
      await givenDm(app, {
        platform_account_id: a.accountId,
        is_deleted: true,
        created_at: new Date(t0),
      });
      newestFirst = created.reverse();
    });

    it('should give a first page paged with skip the exact total, counted once', async () => {
      const page = await get('/instagram-dms/list?limit=2&skip=2', a, 'instagram_dms');
      expect(page.body).toMatchObject({ success: true, total: 5, limit: 2, skip: 2 });
      expect(ids(page.body)).toEqual(newestFirst.slice(2, 4));
      expect(page.counts).toBe(1);

      const byDefault = await get('/instagram-dms/list', a, 'instagram_dms');
      expect(byDefault.body.total).toBe(5);
      expect(ids(byDefault.body)).toEqual(newestFirst);

      const asked = await get('/instagram-dms/list?limit=1&with_total=true', a, 'instagram_dms');
      expect(asked.body.total).toBe(5);
    });

    it('should answer a cursor page with total null, without counting, and still page right', async () => {
      const first = await get('/instagram-dms/list?limit=2', a, 'instagram_dms');
      expect(first.body.total).toBe(5);
      const seen = ids(first.body);
      let cursor = first.body.next_cursor;
      while (cursor) {
        const page = await get(
          `/instagram-dms/list?limit=2&cursor=${encodeURIComponent(cursor)}`,
          a,
          'instagram_dms',
        );
        expect(page.body.total).toBeNull();
        expect(page.counts).toBe(0);
        // The page query itself was seen: the hook does observe this request.
        expect(page.finds).toBe(1);
        seen.push(...ids(page.body));
        cursor = page.body.next_cursor;
      }
      expect(seen).toEqual(newestFirst);

      const off = await get(
        `/instagram-dms/list?limit=2&with_total=false&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
        a,
        'instagram_dms',
      );
      expect(off.body.total).toBeNull();
      expect(ids(off.body)).toEqual(newestFirst.slice(2, 4));
    });

    it.each(['false', '0'])(
      'should answer with_total=%s on a first page with total null, without counting',
      async (value) => {
        const page = await get(
          `/instagram-dms/list?limit=2&skip=1&with_total=${value}`,
          a,
          'instagram_dms',
        );
        expect(page.body).toMatchObject({ success: true, total: null, limit: 2, skip: 1 });
        expect(ids(page.body)).toEqual(newestFirst.slice(1, 3));
        expect(page.counts).toBe(0);
        expect(page.finds).toBe(1);
      },
    );

    it.each(['true', '1'])(
      'should refuse with_total=%s with a cursor: 400 VALIDATION_FAILED, nothing read',
      async (value) => {
        const first = await get('/instagram-dms/list?limit=2', a, 'instagram_dms');
        const res = await get(
          `/instagram-dms/list?with_total=${value}&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
          a,
          'instagram_dms',
          400,
        );
        expect(res.body).toMatchObject({
          success: false,
          error: {
            code: 'VALIDATION_FAILED',
            message: `Validation failed: ${KEYSET_TOTAL_MESSAGE}`,
            details: [{ field: 'with_total', errors: [KEYSET_TOTAL_MESSAGE] }],
          },
        });
        expect(res.body.error!.message).toContain('keyset pages carry no total');
        expect(res.finds + res.counts).toBe(0);
      },
    );

    it('should refuse a with_total that is not a boolean', async () => {
      const res = await get('/instagram-dms/list?with_total=maybe', a, 'instagram_dms', 400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(JSON.stringify(res.body.error!.details)).toContain('with_total');
    });
  });

  describe('GET /instagram-dms/conversations', () => {
    let a: { userId: string; accountId: string };
    let newestFirst: string[];

    beforeAll(async () => {
      a = await tenant();
      const other = await tenant();
      const now = Date.now();
      newestFirst = [];
      for (let i = 0; i < 4; i += 1) {
        newestFirst.unshift(
          await givenConversation(app, a.accountId, `cust-${i}`, {
            last_message_at: new Date(now - 10_000 + i * 1000),
            unread_count: i % 2,
          }),
        );
      }
      await givenConversation(app, other.accountId, 'cust-other');
    });

    it('should give a first page the exact total, counted once', async () => {
      const page = await get('/instagram-dms/conversations?limit=3', a, 'instagram_conversations');
      expect(page.body).toMatchObject({ success: true, total: 4, limit: 3 });
      expect(ids(page.body)).toEqual(newestFirst.slice(0, 3));
      expect(page.counts).toBe(1);

      const unread = await get(
        '/instagram-dms/conversations?limit=1&unread_only=true',
        a,
        'instagram_conversations',
      );
      expect(unread.body.total).toBe(2);
    });

    it('should answer a cursor page with total null, without counting, and still page right', async () => {
      const first = await get('/instagram-dms/conversations?limit=3', a, 'instagram_conversations');
      const next = await get(
        `/instagram-dms/conversations?limit=3&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
        a,
        'instagram_conversations',
      );
      expect(next.body).toMatchObject({ success: true, total: null, next_cursor: null });
      expect(ids(next.body)).toEqual(newestFirst.slice(3));
      expect(next.counts).toBe(0);
      expect(next.finds).toBe(1);
    });

    it('should answer with_total=false on a first page with total null, without counting', async () => {
      const page = await get(
        '/instagram-dms/conversations?limit=3&with_total=false',
        a,
        'instagram_conversations',
      );
      expect(page.body.total).toBeNull();
      expect(ids(page.body)).toEqual(newestFirst.slice(0, 3));
      expect(page.counts).toBe(0);
      expect(page.finds).toBe(1);
    });

    it('should refuse with_total=true with a cursor: 400 VALIDATION_FAILED, nothing read', async () => {
      const first = await get('/instagram-dms/conversations?limit=3', a, 'instagram_conversations');
      const res = await get(
        `/instagram-dms/conversations?with_total=true&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
        a,
        'instagram_conversations',
        400,
      );
      expect(res.body).toMatchObject({
        success: false,
        error: {
          code: 'VALIDATION_FAILED',
          message: `Validation failed: ${KEYSET_TOTAL_MESSAGE}`,
          details: [{ field: 'with_total', errors: [KEYSET_TOTAL_MESSAGE] }],
        },
      });
      expect(res.finds + res.counts).toBe(0);
    });
  });

  describe('the OpenAPI document', () => {
    interface Parameter {
      name: string;
      in: string;
      required?: boolean;
      description?: string;
      schema?: Record<string, unknown>;
    }
    type Doc = {
      paths: Record<
        string,
        {
          get: {
            parameters: Parameter[];
            responses: Record<string, { content?: Record<string, { schema: { $ref: string } }> }>;
          };
        }
      >;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    let doc: Doc;

    beforeAll(async () => {
      doc = (await app.http().get('/docs-json').expect(200)).body as Doc;
    });

    it.each([
      ['/instagram-dms/list', 'DmListReplyDto'],
      ['/instagram-dms/conversations', 'ConversationListReplyDto'],
    ])('should declare with_total on %s and total as a nullable integer in %s', (path, reply) => {
      const op = doc.paths[path].get;
      const param = op.parameters.find((p) => p.name === 'with_total');
      expect(param).toMatchObject({
        in: 'query',
        required: false,
        schema: { type: 'string', enum: ['true', 'false', '1', '0'], example: 'true' },
      });
      // Its default depends on cursor, so the schema declares none; the description says it.
      expect(param!.schema).not.toHaveProperty('default');
      expect(param!.description).toMatch(/first page/);
      expect(param!.description).toMatch(/keyset pages carry no total/);

      expect(op.responses['200'].content!['application/json'].schema.$ref).toBe(
        `#/components/schemas/${reply}`,
      );
      const schema = doc.components.schemas[reply];
      expect(schema.properties.total).toEqual({
        type: 'integer',
        minimum: 0,
        nullable: true,
        description: TOTAL_DESCRIPTION,
      });
      expect((schema as { required?: string[] }).required).toContain('total');
    });
  });
});
