import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { AccountsService } from '../../accounts/accounts.service';
import type { RoutedAccount } from '../../accounts/accounts.types';
import { BULK_CHUNK } from '../../common/database/duplicate-key';
import { WritePriority } from '../../database/write-priority';
import { ConversationsService } from '../conversations.service';
import { DmWriteLock } from '../dm-write-lock';
import { ledgerKey } from '../ledger-keys';
import type { CustomerProfile } from '../schemas/instagram-conversation.schema';
import { InstagramDm } from '../schemas/instagram-dm.schema';
import { DmChangeEmitter } from './dm-change-emitter';
import type { BulkStored, NewDm, StoredDm } from './ingest.types';
import { DmLedger } from './ledger';
import { MessageStore } from './message-store';
import { ProfileReads } from './profile-reads';

/**
 * How long a batch waits for the profiles of threads it sees for the first time (Graph answers
 * in a few hundred milliseconds): their first messages are stored named, instead of named one
 * by one afterwards (two requests each on a database that serves one at a time).
 */
const PROFILE_WAIT_MS = 1_000;

/** Threads of one batch recorded at the same time. */
const THREAD_WRITES_AT_ONCE = 4;

/**
 * The bulk path of new inbound messages: a batch of them costs a handful of writes (ledger
 * claims with their unread +1, documents, one per thread) instead of several each.
 */
@Injectable()
export class BatchStore {
  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    private readonly ledger: DmLedger,
    private readonly messages: MessageStore,
    private readonly conversations: ConversationsService,
    private readonly accounts: AccountsService,
    private readonly writeLock: DmWriteLock,
    private readonly changes: DmChangeEmitter,
    private readonly profiles: ProfileReads,
    private readonly priority: WritePriority,
  ) {}

  /**
   * Stores new inbound messages in bulk; an entry is undefined where the message is not new (or
   * must wait for the one-by-one path), to be stored by `storeMessage`.
   */
  async storeNewInbound(
    drafts: NewDm[],
    accounts: ReadonlyMap<string, RoutedAccount>,
  ): Promise<(BulkStored | undefined)[]> {
    const out: (BulkStored | undefined)[] = drafts.map(() => undefined);
    if (drafts.length === 0) return out;
    // An import or reconciliation that outlived a delete must not write into it (storeMessage).
    const live = new Map<string, boolean>();
    for (const accountId of new Set(drafts.map((d) => d.platform_account_id)))
      live.set(accountId, await this.accounts.isLive(accountId));
    const createdAt = new Date();
    const candidates = drafts.map(() => new Types.ObjectId());
    const wanted = drafts
      .map((draft, i) => ({ draft, i }))
      .filter(({ draft }) => live.get(draft.platform_account_id));
    // 1. Claim the mids, each with its unread +1: one unordered insert; a key that exists is not
    // new (and its +1 is someone else's).
    const claimed = await this.ledger.insertEach(
      wanted.map(({ draft, i }) => ({
        _id: ledgerKey(draft.platform_account_id, draft.message_id),
        dm_id: candidates[i],
        platform_account_id: draft.platform_account_id,
        created_at: createdAt,
        unread_counted: true,
      })),
    );
    const fresh = wanted.filter((_, j) => claimed[j]);
    if (fresh.length === 0) return out;
    // 3. The customer's name: known to the thread for every message but its first ones, whose
    // profile is read now (a moment's wait) rather than naming each of them afterwards.
    const threads = new Map<string, { account: RoutedAccount; customerId: string }>();
    for (const { draft } of fresh)
      threads.set(`${draft.platform_account_id}:${draft.customer_id}`, {
        account: accounts.get(draft.platform_account_id)!,
        customerId: draft.customer_id,
      });
    const customers = await this.customersOf(threads);
    const names = new Map(
      [...customers].map(([key, c]) => [key, c.profile?.name ?? c.profile?.username ?? c.name]),
    );
    const docs = fresh.map(({ draft, i }) => {
      const name = names.get(`${draft.platform_account_id}:${draft.customer_id}`);
      return this.messages.buildDoc(
        name && !draft.sender_name ? { ...draft, sender_name: name } : draft,
        candidates[i],
      );
    });
    // 4. The documents, in one insert. If it fails the deliveries are retried: their entries name
    // a dm_id with no document, which storeMessage then inserts.
    // Straight to the driver: buildDoc sets every field the model would default, and casting
    // 2 500 documents through mongoose cost a third of the batch's time.
    // In pieces (BULK_CHUNK), each unordered: a piece that fails does not stop the others.
    let failure: Error | undefined;
    for (let from = 0; from < docs.length; from += BULK_CHUNK) {
      await this.priority.giveWay();
      await this.dms.collection
        .insertMany(docs.slice(from, from + BULK_CHUNK) as never[], { ordered: false })
        .catch((error: Error) => (failure ??= error));
    }
    if (failure) {
      const error = failure;
      // Another writer may have stored some of them first: storeMessage, handling a second
      // delivery of the same mid, found the entry claimed here and wrote the document with the
      // same _id. If every document is there now, they are the messages (their unread +1 is still
      // counted here: it came with the entry, which the other writer found claimed); otherwise
      // the deliveries are retried.
      const stored = await Promise.all(
        docs.map((doc) => this.dms.findById(doc._id).lean<StoredDm>().exec()),
      );
      if (stored.some((doc) => !doc)) throw error;
      stored.forEach((doc, k) => (docs[k] = doc!));
    }
    // 5. Each thread in order under its lock, a few threads side by side: more would only queue
    // at the database in front of the acknowledgements' inserts.
    const byThread = new Map<string, number[]>();
    fresh.forEach(({ draft }, j) => {
      const key = `${draft.platform_account_id}:${draft.customer_id}`;
      byThread.set(key, [...(byThread.get(key) ?? []), j]);
    });
    const threadsLeft = [...byThread.values()];
    const recordNext = async (): Promise<void> => {
      for (let indexes = threadsLeft.shift(); indexes; indexes = threadsLeft.shift()) {
        await this.priority.giveWay();
        const first = fresh[indexes[0]].draft;
        const stored = await this.writeLock.forThread(
          first.platform_account_id,
          first.customer_id,
          () =>
            this.recordBulkThread(
              indexes.map((j) => ({ draft: fresh[j].draft, dm: docs[j] })),
              customers.get(`${first.platform_account_id}:${first.customer_id}`)?.profile,
            ),
        );
        indexes.forEach((j, k) => (out[fresh[j].i] = stored[k]));
      }
    };
    await Promise.all(Array.from({ length: THREAD_WRITES_AT_ONCE }, recordNext));
    return out;
  }

  /**
   * What each thread knows of its customer; for a thread whose profile was never read, the
   * profile itself, read now. Reads that take longer than PROFILE_WAIT_MS are not waited for:
   * their messages are stored unnamed and enrichment names them when the read ends.
   */
  private async customersOf(
    threads: Map<string, { account: RoutedAccount; customerId: string }>,
  ): Promise<Map<string, { name?: string; profile?: CustomerProfile }>> {
    const out = new Map<string, { name?: string; profile?: CustomerProfile }>();
    const reads: Promise<unknown>[] = [];
    await Promise.all(
      [...threads].map(async ([key, { account, customerId }]) => {
        const known = await this.conversations.customerOf(account.accountId, customerId);
        out.set(key, known.name ? { name: known.name } : {});
        if (!known.neverRead || !ProfileReads.mayRead(account)) return;
        reads.push(
          this.profiles.read(account, customerId).then(
            (profile) => out.set(key, { profile }),
            () => undefined, // enrichment reads it again, and records the failure
          ),
        );
      }),
    );
    if (reads.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(reads),
        new Promise((resolve) => (timer = setTimeout(resolve, PROFILE_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    // A copy: reads that end later must not change what this batch stores.
    return new Map(out);
  }

  /** The new messages of one thread (under its lock): recorded in one write, each announced. */
  private async recordBulkThread(
    stored: { draft: NewDm; dm: StoredDm }[],
    profile: CustomerProfile | undefined,
  ): Promise<BulkStored[]> {
    // No event can be waiting on these entries: they were new, and an event that found one
    // claimed before its document existed was sent back to be retried (MessageBeingStoredError).
    const referral = [...stored].reverse().find(({ draft }) => draft.referral)?.draft.referral;
    const recorded = await this.conversations.recordInbound(
      stored.map(({ dm }) => dm),
      {
        newUnread: stored.length, // each claimed its +1 with its entry
        unnamedDmIds: stored.filter(({ dm }) => !dm.sender_name).map(({ dm }) => dm._id),
        ...(referral ? { referral } : {}),
        ...(profile ? { profile } : {}),
      },
    );
    // Named by enrichment between the batch's read of the thread and now (rare): name them here,
    // since the thread did not take them on its list of DMs to name.
    if (recorded.customerName)
      for (const item of stored.filter(({ dm }) => !dm.sender_name)) {
        await this.dms
          .updateOne(
            { _id: item.dm._id },
            { $set: { sender_name: recorded.customerName } },
            { timestamps: false },
          )
          .exec();
        item.dm = { ...item.dm, sender_name: recorded.customerName };
      }
    return stored.map(({ dm }) => {
      this.changes.emit(dm, 'created');
      return {
        dm,
        ...(recorded.profileFetchedAt ? { profileFetchedAt: recorded.profileFetchedAt } : {}),
      };
    });
  }
}
