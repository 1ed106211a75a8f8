/**
 * Merges the duplicate `instagram_dms` documents the Python service left behind (Meta's retries
 * and send/echo pairs stored twice), explicitly and with a dry run first:
 *   npm run db:dedupe            # dry run: prints what would be merged, changes nothing
 *   npm run db:dedupe -- --apply # merges: one document per message_id, the others deleted
 * Uses DATABASE_URL/DATABASE_NAME (process env, then .env). Without DATABASE_URL it opens the
 * embedded development database under EMBEDDED_DB_DIR (stop `npm start` first).
 */
import { setting } from './settings';
import { resolve } from 'node:path';
import mongoose, { mongo } from 'mongoose';
import { startEmbeddedDatabase } from '../src/database/embedded-database';

type Dm = mongo.Document & { _id: mongo.ObjectId; message_id: string };

/**
 * The survivor is the document the dashboard already knows best: the one sent through the API
 * (manual_dm) if any, else the oldest. It takes what the others know that it does not: the
 * read state, the owner's user_id, the echo's profile names and Meta's original message.
 */
export function mergeDuplicates(copies: Dm[]): {
  keep: Dm;
  set: Record<string, unknown>;
  remove: mongo.ObjectId[];
} {
  const sorted = [...copies].sort((a, b) => a._id.toHexString().localeCompare(b._id.toHexString()));
  const keep = sorted.find((d) => d.manual_dm === true) ?? sorted[0];
  const others = sorted.filter((d) => d !== keep);
  const set: Record<string, unknown> = {};
  if (!keep.read && others.some((d) => d.read === true)) set.read = true;
  if (keep.user_id == null) {
    const owner = others.find((d) => d.user_id != null);
    if (owner) set.user_id = owner.user_id;
  }
  const echo = others.find((d) => d.is_echo === true);
  if (echo) {
    set.is_echo = true;
    set.raw = echo.raw;
    if (echo.sender_name) set.sender_name = echo.sender_name;
    if (echo.recipient_name) set.recipient_name = echo.recipient_name;
  }
  if (others.some((d) => d.is_deleted === false) && keep.is_deleted === true)
    set.is_deleted = false;
  return { keep, set, remove: others.map((d) => d._id) };
}

async function main(): Promise<void> {
  const apply = process.argv.includes('--apply');
  const dbName = setting('DATABASE_NAME') ?? 'instagram_dm_app';
  let uri = setting('DATABASE_URL');
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!uri) {
    const embedded = await startEmbeddedDatabase({
      dataDir: resolve(setting('EMBEDDED_DB_DIR') ?? '.data/db'),
      log: (line) => console.log(line),
    });
    uri = embedded.uri;
    stopEmbedded = () => embedded.stop();
  }
  const connection = await mongoose.createConnection(uri, { dbName }).asPromise();
  try {
    const dms = connection.db!.collection<Dm>('instagram_dms');
    const ledger = connection.db!.collection<{ _id: string; dm_id: mongo.ObjectId }>(
      'instagram_dm_ids',
    );
    // A mid is one message per account: the same mid on two connected accounts is two messages.
    const groups = await dms
      .aggregate<{ _id: { mid: string; account: string }; n: number }>([
        { $match: { message_id: { $exists: true } } },
        {
          $group: {
            _id: { mid: '$message_id', account: '$platform_account_id' },
            n: { $sum: 1 },
          },
        },
        { $match: { n: { $gt: 1 } } },
      ])
      .toArray();
    console.log(`${groups.length} message_id(s) stored more than once in ${dbName}.instagram_dms`);
    let removed = 0;
    for (const [index, group] of groups.entries()) {
      const { mid, account } = group._id;
      const copies = await dms.find({ message_id: mid, platform_account_id: account }).toArray();
      const plan = mergeDuplicates(copies);
      console.log(
        `[${index + 1}/${groups.length}] ${mid}: keep ${plan.keep._id.toHexString()}` +
          `, merge ${Object.keys(plan.set).join(', ') || 'nothing'}, delete ${plan.remove.length}`,
      );
      if (!apply) continue;
      if (Object.keys(plan.set).length)
        await dms.updateOne({ _id: plan.keep._id }, { $set: plan.set });
      await ledger.updateOne(
        { _id: `${account}:${mid}` },
        { $set: { dm_id: plan.keep._id } },
        { upsert: true },
      );
      removed += (await dms.deleteMany({ _id: { $in: plan.remove } })).deletedCount;
    }
    console.log(
      apply
        ? `Done: ${removed} duplicate document(s) deleted.`
        : 'Dry run: nothing changed. Run `npm run db:dedupe -- --apply` to merge.',
    );
  } finally {
    await connection.close();
    await stopEmbedded?.();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`db:dedupe failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
