import mongoose, { Connection, Model, mongo } from 'mongoose';
import { Account, AccountSchema } from '../../src/accounts/schemas/account.schema';
import { UserSettings, UserSettingsSchema } from '../../src/accounts/schemas/user-settings.schema';
import { InstagramDm, InstagramDmSchema } from '../../src/dms/schemas/instagram-dm.schema';
import { uniqueDatabaseName } from '../support/e2e';
import { loadReferenceDump } from '../support/reference-db';

const { EJSON } = mongo.BSON;

/** Canonical Extended JSON keeps every BSON type, so equal strings mean equal types and values. */
const canonical = (value: unknown) => EJSON.stringify(value, { relaxed: false });

describe('documents written by the Python service', () => {
  let connection: Connection;
  const models: Record<string, Model<any>> = {};

  beforeAll(async () => {
    connection = await mongoose
      .createConnection(process.env.IGDM_TEST_DATABASE_URL!, {
        dbName: uniqueDatabaseName('igdm_ref'),
      })
      .asPromise();
    models.accounts = connection.model(Account.name, AccountSchema);
    models.user_settings = connection.model(UserSettings.name, UserSettingsSchema);
    models.instagram_dms = connection.model(InstagramDm.name, InstagramDmSchema);
    for (const name of Object.keys(models)) {
      await connection.db!.collection(name).insertMany(loadReferenceDump(name));
    }
  });

  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it.each(['accounts', 'user_settings', 'instagram_dms'])(
    'should map the collection %s to the model of the same name',
    (name) => {
      expect(models[name].collection.collectionName).toBe(name);
    },
  );

  it.each(['accounts', 'user_settings', 'instagram_dms'])(
    'should load every %s document through the model with every field and value',
    async (name) => {
      for (const original of loadReferenceDump(name)) {
        const loaded = await models[name].findById(original._id).exec();
        const asRead = loaded!.toObject({
          depopulate: true,
          flattenMaps: false,
          versionKey: false,
        });
        // Mongoose reads int64 as a JS number; compare on relaxed JSON, where both are numbers.
        expect(JSON.parse(EJSON.stringify(asRead, { relaxed: true }))).toEqual(
          JSON.parse(EJSON.stringify(original, { relaxed: true })),
        );
      }
    },
  );

  it.each([
    ['accounts', (doc: any) => doc.set('meta.name', 'Renamed Shop'), ['meta', 'updated_at']],
    ['user_settings', (doc: any) => doc.set('is_active', false), ['is_active', 'updated_at']],
    ['instagram_dms', (doc: any) => doc.set('read', !doc.read), ['read', 'updated_at']],
  ])(
    'should save a changed %s document without losing, renaming or retyping any other field',
    async (name, change, changedFields) => {
      for (const original of loadReferenceDump(name)) {
        const loaded = await models[name].findById(original._id).exec();
        change(loaded);
        await loaded!.save();
        const stored = (await connection.db!.collection(name).findOne({ _id: original._id }))!;
        for (const [field, value] of Object.entries(original)) {
          if (changedFields.includes(field)) continue;
          expect(`${field}: ${canonical(stored[field])}`).toBe(`${field}: ${canonical(value)}`);
        }
        expect(Object.keys(stored).sort()).toEqual(
          [...new Set([...Object.keys(original), ...changedFields])].sort(),
        );
      }
    },
  );

  it('should start on a database that holds duplicate message_ids', async () => {
    const duplicates = await models.instagram_dms.aggregate([
      { $group: { _id: '$message_id', n: { $sum: 1 } } },
      { $match: { n: { $gt: 1 } } },
    ]);
    expect(duplicates).toHaveLength(3);
    await expect(models.instagram_dms.syncIndexes()).resolves.toBeDefined();
  });
});
