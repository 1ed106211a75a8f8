import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, UpdateQuery } from 'mongoose';
import { CONVERSATION_CHANGED, ConversationChangedEvent } from './events/dm-events';
import { CustomerProfile, InstagramConversation } from './schemas/instagram-conversation.schema';
import { InstagramDm } from './schemas/instagram-dm.schema';
import { ThreadWrites } from './thread-writes';

const PREVIEW_CHARS = 100;
/** Unnamed DMs remembered per thread (a new thread rarely holds more before its profile). */
const MAX_UNNAMED = 200;
/** Unseen outbound DMs remembered per thread; past it, read receipts fall back to a query. */
export const MAX_UNSEEN = 500;

/** What recordMessage needs of a stored DM. */
export type ConversationDm = Pick<
  InstagramDm,
  | 'platform_account_id'
  | 'user_id'
  | 'ig_id'
  | 'customer_id'
  | 'message_id'
  | 'direction'
  | 'message_type'
  | 'text'
  | 'timestamp'
  | 'read'
  | 'attachments'
>;

export function previewOf(
  dm: Pick<InstagramDm, 'text' | 'message_type' | 'attachments'> & { is_unsent?: boolean },
): string {
  // An unsent message shows nothing, whichever order its events came in.
  if (dm.is_unsent) return '';
  if (dm.text)
    return dm.text.length > PREVIEW_CHARS ? `${dm.text.slice(0, PREVIEW_CHARS)}…` : dm.text;
  const type = dm.attachments?.[0]?.type ?? dm.message_type ?? 'message';
  return `[${type}]`;
}

/** What recording a thread tells its caller. */
export interface RecordedThread {
  id: string;
  customerName?: string;
  profileFetchedAt?: Date;
}

/** `profile_retry_at` of a profile that waits for its account to be repaired: never due. */
export const PROFILE_PARKED = new Date('9999-12-31T00:00:00Z');

/**
 * Write side of `instagram_conversations`: one thread per account and customer, updated by `_id`
 * on every event. Derived figures (last message, unread count, 24 h window) are kept on write;
 * each thread's writes run in order (ThreadWrites).
 */
@Injectable()
export class ConversationsService {
  constructor(
    @InjectModel(InstagramConversation.name)
    private readonly conversations: Model<InstagramConversation>,
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    private readonly events: EventEmitter2,
  ) {}

  private readonly threads = new ThreadWrites((id) =>
    this.conversations.findById(id).lean<InstagramConversation>().exec(),
  );

  /** An account's threads were deleted or rewritten in bulk (purge, resumed profiles). */
  forgetAccount(accountId: string): void {
    this.threads.forgetAccount(accountId);
  }

  /** A purged account's threads: deleted, and forgotten here. */
  async deleteAccountThreads(accountId: string): Promise<number> {
    const res = await this.conversations.deleteMany({ platform_account_id: accountId }).exec();
    this.forgetAccount(accountId);
    return res.deletedCount;
  }

  /**
   * The customer's name as the thread knows it (recently written threads are not read again), and
   * whether its profile was never asked for: a new thread, or one whose first read is still due.
   */
  async customerOf(
    accountId: string,
    customerId: string,
  ): Promise<{ name?: string; neverRead: boolean }> {
    const conv = await this.threads.current(this.conversationId(accountId, customerId));
    const name = conv?.customer?.name ?? conv?.customer?.username;
    const parked = conv?.profile_retry_at?.getTime() === PROFILE_PARKED.getTime();
    const neverRead = !conv || (!conv.customer && !conv.profile_attempts && !parked);
    return { ...(name ? { name } : {}), neverRead };
  }

  conversationId(accountId: string, customerId: string): string {
    return `${accountId}:${customerId}`;
  }

  /**
   * Upserts the thread of a stored DM: last message (when newer), last_message_at, last_inbound_at
   * ($max, inbound message events of any kind), unread_count +1 for a new unread inbound DM.
   * `opts.newUnread` must only be true the first time the DM is stored.
   */
  async recordMessage(
    dm: ConversationDm,
    opts: {
      newUnread?: boolean;
      preview?: boolean;
      referral?: Record<string, unknown>;
      /** A DM stored without the customer's name: remembered for naming, unless known now. */
      unnamedDmId?: Types.ObjectId;
      /** An outbound DM the customer has not seen: remembered for the next read receipt. */
      unseenOutboundDm?: { id: Types.ObjectId; timestamp: number };
    } = {},
  ): Promise<RecordedThread> {
    return this.record([dm], {
      newUnread: opts.newUnread ? 1 : 0,
      unnamedDmIds: opts.unnamedDmId ? [opts.unnamedDmId] : [],
      preview: opts.preview,
      referral: opts.referral,
      unseenOutboundDm: opts.unseenOutboundDm,
    });
  }

  /**
   * A read receipt up to `watermark` (ms): hands over the remembered outbound DMs it covers and
   * forgets them. `null` when the thread is not tracked: the caller finds them by query and
   * hands the rest to `trackUnseen`.
   */
  async takeSeen(
    accountId: string,
    customerId: string,
    watermark: number,
  ): Promise<Types.ObjectId[] | null> {
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      const _id = this.conversationId(accountId, customerId);
      const current = await this.conversations
        .findById(_id, { unseen_outbound: 1, unseen_tracked: 1 })
        .lean()
        .exec();
      if (!current?.unseen_tracked) return null;
      const due = Object.entries(current.unseen_outbound ?? {})
        .filter(([, timestamp]) => timestamp <= watermark)
        .map(([hex]) => hex);
      if (due.length === 0) return [];
      await this.conversations
        .updateOne(
          { _id },
          { $unset: Object.fromEntries(due.map((hex) => [`unseen_outbound.${hex}`, ''])) },
        )
        .exec();
      return due.map((hex) => new Types.ObjectId(hex));
    });
  }

  /** The thread's unseen outbound DMs found by query: remembered from now on (if they fit). */
  async trackUnseen(
    accountId: string,
    customerId: string,
    unseen: { id: Types.ObjectId; timestamp: number }[],
  ): Promise<void> {
    if (unseen.length > MAX_UNSEEN) return;
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      // One `$set` per DM rather than the whole map: an id another instance adds meanwhile stays.
      const set: Record<string, unknown> = { unseen_tracked: true };
      for (const dm of unseen) set[`unseen_outbound.${dm.id.toHexString()}`] = dm.timestamp;
      await this.conversations
        .updateOne({ _id: this.conversationId(accountId, customerId) }, { $set: set })
        .exec();
    });
  }

  /** After an unsend: the preview of that message is cleared. */
  async clearPreview(accountId: string, customerId: string, mid: string): Promise<void> {
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      const _id = this.conversationId(accountId, customerId);
      const current = await this.conversations
        .findById(_id, { 'last_message.message_id': 1 })
        .lean()
        .exec();
      if (current?.last_message?.message_id !== mid) return;
      await this.conversations.updateOne({ _id }, { $set: { 'last_message.preview': '' } }).exec();
    });
  }

  /** Recounts inbound read:false, not deleted, not unsent DMs of the thread. */
  async recountUnread(accountId: string, customerId: string): Promise<number> {
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      const unread = await this.dms
        .countDocuments({
          platform_account_id: accountId,
          customer_id: customerId,
          direction: 'inbound',
          read: false,
          is_deleted: { $ne: true },
          is_unsent: { $ne: true },
        })
        .exec();
      await this.conversations
        .updateOne(
          { _id: this.conversationId(accountId, customerId) },
          { $set: { unread_count: unread } },
        )
        .exec();
      return unread;
    });
  }

  async setProfile(accountId: string, customerId: string, profile: CustomerProfile): Promise<void> {
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      const _id = this.conversationId(accountId, customerId);
      const update: UpdateQuery<InstagramConversation> = {};
      this.setProfileIn(update, profile);
      await this.conversations.updateOne({ _id }, update).exec();
      const res = await this.conversations.findById(_id, { user_id: 1 }).lean().exec();
      if (res) this.emitChanged(res.user_id, accountId, _id);
    });
  }

  /** Adds "the profile is known" to a thread's update (taking the place of its insert defaults). */
  private setProfileIn(update: UpdateQuery<InstagramConversation>, profile: CustomerProfile): void {
    update.$set = {
      ...update.$set,
      customer: profile,
      profile_pending: false,
      profile_attempts: 0,
    };
    update.$unset = { ...update.$unset, profile_retry_at: '' };
    // One path may appear in one operator only (MongoDB refuses the update otherwise).
    if (update.$setOnInsert) {
      const {
        profile_pending: _p,
        profile_attempts: _a,
        profile_retry_at: _r,
        ...rest
      } = update.$setOnInsert as Record<string, unknown>;
      update.$setOnInsert = rest;
    }
  }

  /** A profile fetch failed: try again after `retryAt`. */
  async profileFailed(accountId: string, customerId: string, retryAt: Date): Promise<void> {
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      await this.conversations
        .updateOne(
          { _id: this.conversationId(accountId, customerId) },
          {
            $set: { profile_pending: true, profile_retry_at: retryAt },
            $inc: { profile_attempts: 1 },
          },
        )
        .exec();
    });
  }

  private rememberUnseen(
    update: UpdateQuery<InstagramConversation>,
    current: Pick<InstagramConversation, 'unseen_outbound' | 'unseen_tracked'> | null,
    dm: { id: Types.ObjectId; timestamp: number },
  ): void {
    // A new thread is tracked from its first DM ($setOnInsert); an untracked one is listed by
    // query at its next read receipt, so nothing is added to it here.
    if (current && !current.unseen_tracked) return;
    const set = update.$set as Record<string, unknown>;
    if (Object.keys(current?.unseen_outbound ?? {}).length >= MAX_UNSEEN) {
      set.unseen_tracked = false;
      // One path may appear in one operator only (MongoDB refuses the update otherwise).
      delete (update.$setOnInsert as Record<string, unknown>).unseen_tracked;
      update.$unset = { ...(update.$unset as object), unseen_outbound: '' };
      return;
    }
    set[`unseen_outbound.${dm.id.toHexString()}`] = dm.timestamp;
  }

  /**
   * Several new inbound messages of one thread at once (the worker's batches), in one write:
   * what `recordMessage` does for each, coalesced. `newUnread` counts those whose unread +1 was
   * claimed; `unnamedDmIds` are those stored without the customer's name.
   */
  async recordInbound(
    dms: ConversationDm[],
    opts: {
      newUnread: number;
      unnamedDmIds: Types.ObjectId[];
      referral?: Record<string, unknown>;
      /** The customer's profile, read while the messages were stored. */
      profile?: CustomerProfile;
    },
  ): Promise<RecordedThread> {
    return this.record(dms, opts);
  }

  /** One write for the new DMs of one thread; the newest of them is the preview. */
  private record(
    dms: ConversationDm[],
    opts: {
      newUnread: number;
      unnamedDmIds: Types.ObjectId[];
      preview?: boolean;
      referral?: Record<string, unknown>;
      unseenOutboundDm?: { id: Types.ObjectId; timestamp: number };
      profile?: CustomerProfile;
    },
  ): Promise<RecordedThread> {
    const newest = dms.reduce((a, b) => ((b.timestamp ?? 0) >= (a.timestamp ?? 0) ? b : a));
    const { platform_account_id: accountId, customer_id: customerId = '' } = newest;
    const _id = this.conversationId(accountId, customerId);
    return this.threads.run(
      _id,
      async () => {
        const at = new Date(newest.timestamp ?? Date.now());
        const update: UpdateQuery<InstagramConversation> = {
          $setOnInsert: {
            platform_account_id: accountId,
            customer_id: customerId,
            ...(opts.newUnread > 0 ? {} : { unread_count: 0 }),
            profile_pending: true,
            profile_attempts: 0,
            profile_retry_at: new Date(0),
            unseen_tracked: true,
          },
          $set: { user_id: newest.user_id ?? '', ...(newest.ig_id ? { ig_id: newest.ig_id } : {}) },
          $max: {
            ...(opts.preview === false ? {} : { last_message_at: at }),
            ...(newest.direction === 'inbound' ? { last_inbound_at: at } : {}),
          },
        };
        if (opts.newUnread > 0) update.$inc = { unread_count: opts.newUnread };
        if (opts.referral) (update.$set as Record<string, unknown>).last_referral = opts.referral;
        if (opts.profile) this.setProfileIn(update, opts.profile);
        if (Object.keys(update.$max as object).length === 0) delete update.$max;
        // Read by _id and decided here rather than in a conditional filter: FerretDB serves only
        // a bare `{_id}` filter from an index, anything more scans the collection.
        const current = await this.threads.current(_id);
        const known = opts.profile ?? current?.customer;
        const customerName = known?.name ?? known?.username;
        if (opts.unnamedDmIds.length > 0 && !customerName) {
          const room = MAX_UNNAMED - (current?.unnamed_dm_ids?.length ?? 0);
          if (room > 0)
            update.$push = { unnamed_dm_ids: { $each: opts.unnamedDmIds.slice(0, room) } };
          if (room < opts.unnamedDmIds.length)
            (update.$set as Record<string, unknown>).unnamed_overflow = true;
        }
        if (opts.unseenOutboundDm) this.rememberUnseen(update, current, opts.unseenOutboundDm);
        // Only a newer message replaces the preview (events arrive out of order).
        const shown = current?.last_message?.timestamp;
        if (
          opts.preview !== false &&
          (shown === undefined || shown === null || shown <= (newest.timestamp ?? 0))
        ) {
          (update.$set as Record<string, unknown>).last_message = {
            message_id: newest.message_id,
            preview: previewOf(newest),
            direction: newest.direction,
            message_type: newest.message_type,
            timestamp: newest.timestamp,
          };
        }
        // The thread comes back with the write: the next record and the stream need not read it.
        const after = await this.conversations
          .findOneAndUpdate({ _id }, update, { upsert: true, new: true })
          .lean<InstagramConversation>()
          .exec();
        this.threads.remember(_id, after);
        this.emitChanged(newest.user_id ?? '', accountId, _id, after ?? undefined);
        const profileFetchedAt = known?.fetched_at;
        return {
          id: _id,
          ...(customerName ? { customerName } : {}),
          ...(profileFetchedAt ? { profileFetchedAt: new Date(profileFetchedAt) } : {}),
        };
      },
      true,
    );
  }

  /**
   * The account cannot read profiles now (it needs re-authorisation or is disconnected): the
   * profile waits, never due, until `resumeProfiles` when the account is repaired. Retrying on a
   * timer would only hammer Meta with a token it refuses and fill the logs.
   */
  async profileParked(accountId: string, customerId: string): Promise<void> {
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      await this.conversations
        .updateOne(
          { _id: this.conversationId(accountId, customerId) },
          { $set: { profile_pending: true, profile_retry_at: PROFILE_PARKED } },
        )
        .exec();
    });
  }

  /**
   * The account was repaired (reconnected, turned on): its parked profiles are due now. Returns
   * their customers, for the caller to read at once (an account event, not the hot path: the
   * threads are found by query).
   */
  async resumeProfiles(accountId: string): Promise<{ customer_id: string; ig_id?: string }[]> {
    const parked = {
      platform_account_id: accountId,
      profile_pending: true,
      profile_retry_at: PROFILE_PARKED,
    };
    const threads = await this.conversations
      .find(parked, { customer_id: 1, ig_id: 1 })
      .lean<{ customer_id: string; ig_id?: string }[]>()
      .exec();
    if (threads.length === 0) return [];
    await this.conversations.updateMany(parked, { $set: { profile_retry_at: new Date() } }).exec();
    this.forgetAccount(accountId);
    return threads;
  }

  /**
   * Hands over the DMs waiting for the customer's name and forgets them. `overflow`: more were
   * stored than remembered, so the caller must name the thread's DMs by query.
   */
  async takeUnnamed(
    accountId: string,
    customerId: string,
  ): Promise<{ ids: Types.ObjectId[]; overflow: boolean }> {
    return this.threads.run(this.conversationId(accountId, customerId), async () => {
      const _id = this.conversationId(accountId, customerId);
      const current = await this.conversations
        .findById(_id, { unnamed_dm_ids: 1, unnamed_overflow: 1 })
        .lean()
        .exec();
      const ids = current?.unnamed_dm_ids ?? [];
      const overflow = current?.unnamed_overflow === true;
      if (ids.length > 0 || overflow) {
        await this.conversations
          .updateOne({ _id }, { $unset: { unnamed_dm_ids: '', unnamed_overflow: '' } })
          .exec();
      }
      return { ids, overflow };
    });
  }

  async findById(accountId: string, customerId: string): Promise<InstagramConversation | null> {
    return this.conversations.findById(this.conversationId(accountId, customerId)).lean().exec();
  }

  /** Threads whose profile is due (read once at start-up). Scans on FerretDB; bounded by `limit`. */
  async dueForProfile(now: Date, limit: number): Promise<InstagramConversation[]> {
    return this.conversations
      .find({ profile_pending: true, profile_retry_at: { $lte: now } })
      .limit(limit)
      .lean()
      .exec();
  }

  emitChanged(
    userId: string,
    accountId: string,
    conversationId: string,
    conversation?: InstagramConversation,
  ): void {
    const event: ConversationChangedEvent = {
      userId,
      accountId,
      conversationId,
      ...(conversation ? { conversation } : {}),
    };
    this.events.emit(CONVERSATION_CHANGED, event);
  }
}
