import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mongoose, { Connection } from 'mongoose';
import { uniqueDatabaseName } from '../support/e2e';
import { loadReferenceDump } from '../support/reference-db';

const root = join(__dirname, '..', '..');

describe('npm run db:dedupe on the Python service database', () => {
  const dbName = uniqueDatabaseName('igdm_dedupe');
  let connection: Connection;

  const run = (...args: string[]) =>
    spawnSync(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'scripts/db-dedupe.ts', ...args],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: process.env.IGDM_TEST_DATABASE_URL,
          DATABASE_NAME: dbName,
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
  const dms = () => connection.db!.collection('instagram_dms');

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(process.env.IGDM_TEST_DATABASE_URL!, { dbName })
      .asPromise();
    await dms().insertMany(loadReferenceDump('instagram_dms'));
  });
  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('should change nothing on a dry run and say what it would merge', async () => {
    const result = run();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('3 message_id(s) stored more than once');
    expect(result.stdout).toContain('Dry run: nothing changed');
    expect(await dms().countDocuments()).toBe(12);
  });

  it('should leave one document per message_id, merging the send with its echo', async () => {
    const result = run('--apply');
    expect(result.status).toBe(0);
    expect(await dms().countDocuments()).toBe(9);
    const sent = await dms().find({ message_id: 'mid.FAKE.sent.000001' }).toArray();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ manual_dm: true, is_echo: true, user_id: 'fixture_user_a' });
    const retried = await dms().find({ message_id: 'mid.FAKE.A.in.0001' }).toArray();
    expect(retried).toHaveLength(1);
    expect(retried[0].read).toBe(true);
    const ledger = await connection
      .db!.collection('instagram_dm_ids')
      .findOne({ _id: '659200000000000000000a01:mid.FAKE.sent.000001' as never });
    expect(ledger?.dm_id.toHexString()).toBe(sent[0]._id.toHexString());
  });
});
