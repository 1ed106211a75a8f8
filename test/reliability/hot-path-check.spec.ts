/**
 * The hot-path check's rule on known shapes. The check itself runs after `npm test` over every
 * query the e2e specs made (test/reliability/support/jest-global-teardown.ts).
 */
import { Types } from 'mongoose';
import { checkHotPath } from './support/hot-path-check';
import type { RecordedLine } from './support/query-recorder';
import { shapeOf } from './support/query-shape';

const query = (origin: string, op: string, args: unknown[]): RecordedLine[] =>
  shapeOf('instagram_conversations', op, args).map((shape) => ({ type: 'query', shape, origin }));

describe('hot-path check (by _id alone, or listed)', () => {
  it('should accept a lookup by _id alone, a string or an ObjectId', () => {
    const report = checkHotPath([
      ...query('src/dms/conversations.service.ts:10', 'findOne', [{ _id: 'a:b' }]),
      ...query('src/dms/ingest/ledger.ts:20', 'updateOne', [{ _id: new Types.ObjectId() }]),
    ]);
    expect(report).toMatchObject({ judged: 2, idOnly: 2, scans: [] });
  });

  it('should report _id with an operator or with another field as a scan', () => {
    const report = checkHotPath([
      ...query('src/dms/ingest/batch-store.ts:5', 'find', [{ _id: { $in: ['a', 'b'] } }]),
      ...query('src/dms/ingest/batch-store.ts:6', 'findOneAndUpdate', [{ _id: 'a', n: 1 }, {}]),
    ]);
    expect(report.scans.map((s) => s.origin)).toEqual([
      ['src/dms/ingest/batch-store.ts:5'],
      ['src/dms/ingest/batch-store.ts:6'],
    ]);
  });

  it('should leave code off the hot path to the index check, and accept what is listed', () => {
    const report = checkHotPath(
      [
        ...query('src/dms/dms.service.ts:120', 'find', [{ platform_account_id: 'x' }]),
        ...query('src/dms/conversations.service.ts:99', 'find', [{ profile_pending: true }]),
      ],
      [{ match: /profile_pending/, reason: 'start-up only' }],
    );
    expect(report).toMatchObject({
      judged: 1,
      scans: [],
      allowed: [{ reason: 'start-up only' }],
    });
  });
});
