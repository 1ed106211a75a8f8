/**
 * The index check's rule (equality, sort, range) on known shapes. The check itself runs after
 * `npm test` over every query the e2e specs made (test/reliability/support/jest-global-teardown.ts).
 */
import { checkRecording } from './support/index-check';
import type { RecordedLine } from './support/query-recorder';
import { judge, shapeOf, type IndexKeys } from './support/query-shape';

const dmIndexes: IndexKeys[] = [
  [['message_id', 1]],
  [
    ['platform_account_id', 1],
    ['created_at', -1],
    ['_id', -1],
  ],
  [
    ['platform_account_id', 1],
    ['customer_id', 1],
    ['created_at', -1],
    ['_id', -1],
  ],
];
const q = (filter: unknown, sort?: unknown) =>
  shapeOf('instagram_dms', 'find', [filter, sort ? { sort } : {}])[0];

describe('index check rule (equality, sort, range)', () => {
  it('should accept equality fields followed by the sort, with residual filters', () => {
    const v = judge(
      q(
        { platform_account_id: { $in: ['a', 'b'] }, is_deleted: { $ne: true } },
        { created_at: -1, _id: -1 },
      ),
      dmIndexes,
    );
    expect(v).toEqual({ served: true, index: '{platform_account_id:1,created_at:-1,_id:-1}' });
  });

  it('should accept a fully reversed sort and a keyset range after the equality prefix', () => {
    expect(
      judge(
        q(
          {
            platform_account_id: 'a',
            customer_id: 'c',
            $or: [{ created_at: { $gt: new Date() } }, { created_at: new Date(), _id: { $gt: 1 } }],
          },
          { created_at: 1, _id: 1 },
        ),
        dmIndexes,
      ).served,
    ).toBe(true);
  });

  it('should reject a sort the index cannot give after the equality fields', () => {
    const v = judge(q({ platform_account_id: 'a' }, { updated_at: -1 }), dmIndexes);
    expect(v.served).toBe(false);
    expect(v.why).toMatch(/sort/);
  });

  it('should reject mixed sort directions on a one-direction index', () => {
    expect(
      judge(q({ platform_account_id: 'a' }, { created_at: -1, _id: 1 }), dmIndexes).served,
    ).toBe(false);
  });

  it('should reject a filter whose fields lead no index, and an empty filter', () => {
    expect(judge(q({ direction: 'inbound', read: false }), dmIndexes).served).toBe(false);
    expect(judge(q({}), dmIndexes).served).toBe(false);
  });

  it('should serve _id lookups without a declared index, and judge each $or branch', () => {
    expect(judge(q({ _id: 'x' }), []).served).toBe(true);
    const accounts: IndexKeys[] = [[['instagram_data.ig_id', 1]], [['instagram_data.id', 1]]];
    const or = shapeOf('accounts', 'findOne', [
      {
        $or: [{ 'instagram_data.ig_id': { $in: ['1'] } }, { 'instagram_data.id': { $in: ['1'] } }],
      },
    ])[0];
    expect(judge(or, accounts).served).toBe(true);
    expect(judge(or, accounts.slice(0, 1)).served).toBe(false);
  });

  it('should treat a range on the first index key as served when there is no sort', () => {
    expect(judge(q({ message_id: { $exists: true } }), dmIndexes).served).toBe(true);
    expect(judge(q({ message_id: { $exists: false } }), dmIndexes).served).toBe(false);
  });

  it('should judge bulkWrite filters, and only app queries (test code is listed, not judged)', () => {
    const lines: RecordedLine[] = [
      { type: 'indexes', collection: 'instagram_dms', model: 'InstagramDm', indexes: dmIndexes },
      {
        type: 'query',
        origin: 'src/x.ts:1',
        shape: shapeOf('instagram_dms', 'bulkWrite', [
          [{ updateOne: { filter: { message_id: 'm' }, update: {} } }],
        ])[0],
      },
      { type: 'query', origin: 'test/y.ts:1', shape: q({ text: 'x' }) },
      { type: 'query', origin: 'src/z.ts:1', shape: q({ text: 'x' }) },
    ];
    const report = checkRecording(lines, []);
    expect(report.served).toHaveLength(1);
    expect(report.unindexed.map((u) => u.origin)).toEqual([['src/z.ts:1']]);
    expect(checkRecording(lines.slice(0, 3), []).testOnly).toBe(1);
  });
});
