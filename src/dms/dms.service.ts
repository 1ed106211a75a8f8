import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { FilterQuery, Model, Types } from 'mongoose';
import { AccountsService } from '../accounts/accounts.service';
import type { AuthUser } from '../auth/auth-user';
import { AppError, NotFoundError } from '../common/errors/app-error';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { ConversationsService } from './conversations.service';
import { customerOf, DmWriteLock } from './dm-write-lock';
import {
  CONVERSATION_CHANGED,
  DM_CHANGED,
  type ConversationChangedEvent,
  type DmChangedEvent as IngestDmChangedEvent,
} from './events/dm-events';
import { decodeCursor, encodeCursor } from './dto/cursor';
import type { ListConversationsQueryDto } from './dto/actions.dto';
import type { ListDmsQueryDto } from './dto/list-dms.query';
import { countsTotal } from './dto/page-total';
import type { UpdateDmDto } from './dto/update-dm.dto';
import { InstagramConversation } from './schemas/instagram-conversation.schema';
import { InstagramDm } from './schemas/instagram-dm.schema';

export const DAY_MS = 24 * 3600 * 1000;
export const STANDARD_WINDOW_MS = DAY_MS;
export const HUMAN_AGENT_WINDOW_MS = 7 * DAY_MS;

/** A stored document as JSON: `_id` as a string, every other field as stored. */
export type DmJson = Omit<InstagramDm, '_id'> & { _id: string } & Record<string, unknown>;
type LeanDm = InstagramDm & Record<string, unknown>;

/** The ingest side's event, plus 'deleted' for hard deletes made through this API. */
export type DmChangedEvent = Omit<IngestDmChangedEvent, 'change'> & {
  change: IngestDmChangedEvent['change'] | 'deleted';
};

export function serializeDm(doc: LeanDm): DmJson {
  return { ...doc, _id: String(doc._id) };
}

export function windowOf(lastInboundAt: Date | undefined | null, now = Date.now()) {
  if (!lastInboundAt) return { open: false, closes_at: null, human_agent_closes_at: null };
  const at = lastInboundAt.getTime();
  return {
    open: now < at + STANDARD_WINDOW_MS,
    closes_at: new Date(at + STANDARD_WINDOW_MS).toISOString(),
    human_agent_closes_at: new Date(at + HUMAN_AGENT_WINDOW_MS).toISOString(),
  };
}

const notFound = () => new NotFoundError('DM_NOT_FOUND', 'DM not found');
const conversationNotFound = () =>
  new NotFoundError('CONVERSATION_NOT_FOUND', 'Conversation not found');
const accountNotFound = () => new NotFoundError('ACCOUNT_NOT_FOUND', 'Account not found');

/**
 * The dashboard side of DMs. Every method takes the caller first; every query is scoped by the
 * accounts the caller owns (legacy documents have `user_id: null`), and another user's document
 * answers exactly like a missing one.
 */
@Injectable()
export class DmsService {
  private readonly logger = new Logger(DmsService.name);

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    @InjectModel(InstagramConversation.name)
    private readonly conversations: Model<InstagramConversation>,
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
    private readonly conversationsWriter: ConversationsService,
    private readonly events: EventEmitter2,
    private readonly writeLock: DmWriteLock,
  ) {}

  /** The account ids a query may touch: the caller's, narrowed to one when asked (404 if not theirs). */
  async scopeAccounts(user: AuthUser, accountId?: string): Promise<string[]> {
    const owned = await this.accounts.listOwnedAccountIds(user);
    if (accountId === undefined) return owned;
    if (!owned.includes(accountId)) throw accountNotFound();
    return [accountId];
  }

  // ------------------------------------------------------------------ GET /instagram-dms/list

  /** Stored DMs (not deleted) and unread ones per account, for the account details. */
  async countsByAccount(
    accountIds: string[],
  ): Promise<Record<string, { total: number; unread: number }>> {
    const [totals, unread] = await Promise.all([
      this.dms
        .aggregate<{ _id: string; n: number }>([
          { $match: { platform_account_id: { $in: accountIds }, is_deleted: { $ne: true } } },
          { $group: { _id: '$platform_account_id', n: { $sum: 1 } } },
        ])
        .exec(),
      this.conversations
        .aggregate<{ _id: string; n: number }>([
          { $match: { platform_account_id: { $in: accountIds } } },
          { $group: { _id: '$platform_account_id', n: { $sum: '$unread_count' } } },
        ])
        .exec(),
    ]);
    const total = new Map(totals.map((r) => [r._id, r.n]));
    const unreadOf = new Map(unread.map((r) => [r._id, r.n]));
    return Object.fromEntries(
      accountIds.map((id) => [id, { total: total.get(id) ?? 0, unread: unreadOf.get(id) ?? 0 }]),
    );
  }

  async list(user: AuthUser, q: ListDmsQueryDto) {
    if (q.user_id !== undefined && q.user_id !== user.id) {
      throw new AppError(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'You can only list your own DMs');
    }
    const accountIds = await this.scopeAccounts(user, q.platform_account_id);
    const counted = countsTotal(q);
    const empty = {
      success: true as const,
      data: [] as DmJson[],
      total: counted ? 0 : null,
      limit: q.limit,
      skip: q.skip,
      next_cursor: null as string | null,
    };
    if (accountIds.length === 0) return empty;

    // Equality fields first (platform_account_id, customer_id), then the sort (created_at, _id):
    // served by { platform_account_id, [customer_id,] created_at: -1, _id: -1 }.
    const filter: FilterQuery<InstagramDm> = {
      platform_account_id: accountIds.length === 1 ? accountIds[0] : { $in: accountIds },
    };
    if (q.customer_id !== undefined) filter.customer_id = q.customer_id;
    filter.is_deleted = false;
    if (q.sender_id !== undefined) filter.sender_id = q.sender_id;
    if (q.recipient_id !== undefined) filter.recipient_id = q.recipient_id;
    if (q.direction !== undefined) filter.direction = q.direction;
    if (q.read !== undefined) filter.read = q.read;
    if (q.message_type !== undefined) filter.message_type = q.message_type;
    if (!q.include_unsent) filter.is_unsent = { $ne: true };
    if (q.since !== undefined || q.until !== undefined) {
      filter.created_at = {
        ...(q.since !== undefined ? { $gte: new Date(q.since) } : {}),
        ...(q.until !== undefined ? { $lt: new Date(q.until) } : {}),
      };
    }

    const pageFilter: FilterQuery<InstagramDm> = { ...filter };
    if (q.cursor !== undefined) {
      const k = decodeCursor(q.cursor, 'dm');
      const at = new Date(k.t);
      pageFilter.$and = [
        { created_at: { $lte: at } },
        { $or: [{ created_at: { $lt: at } }, { _id: { $lt: new Types.ObjectId(k.id) } }] },
      ];
    }

    // The count is a second scan of every matching DM on FerretDB: only when the page wants it.
    const [docs, total] = await Promise.all([
      this.dms
        .find(pageFilter)
        .sort({ created_at: -1, _id: -1 })
        .skip(q.skip)
        .limit(q.limit)
        .lean<LeanDm[]>()
        .exec(),
      counted ? this.dms.countDocuments(filter).exec() : null,
    ]);
    const last = docs.at(-1);
    const nextCursor =
      docs.length === q.limit && last?.created_at instanceof Date
        ? encodeCursor({ t: last.created_at.getTime(), id: String(last._id) })
        : null;
    return { ...empty, data: docs.map(serializeDm), total, next_cursor: nextCursor };
  }

  // ------------------------------------------------------------------ one DM

  private async findOwned(
    user: AuthUser,
    id: string,
    opts: { includeDeleted?: boolean } = {},
  ): Promise<LeanDm> {
    const owned = await this.accounts.listOwnedAccountIds(user);
    if (owned.length === 0) throw notFound();
    const filter: FilterQuery<InstagramDm> = {
      _id: new Types.ObjectId(id),
      platform_account_id: { $in: owned },
    };
    if (!opts.includeDeleted) filter.is_deleted = { $ne: true };
    const dm = await this.dms.findOne(filter).lean<LeanDm>().exec();
    if (!dm) throw notFound();
    return dm;
  }

  async update(user: AuthUser, id: string, dto: UpdateDmDto) {
    const set: Partial<Pick<InstagramDm, 'text' | 'read'>> = {};
    if (dto.text !== undefined && dto.text !== null) set.text = dto.text;
    if (dto.read !== undefined && dto.read !== null) set.read = dto.read;
    if (Object.keys(set).length === 0) {
      throw new AppError(HttpStatus.BAD_REQUEST, 'NO_UPDATE_FIELDS', 'No update fields provided');
    }
    const owned = await this.accounts.listOwnedAccountIds(user);
    // Reference semantics: PATCH reaches soft-deleted documents too (they are the caller's).
    const found = await this.dms
      .findOne({ _id: new Types.ObjectId(id), platform_account_id: { $in: owned } })
      .lean<LeanDm>()
      .exec();
    if (!found) throw notFound();
    const [before, dm] = await this.writeLock.forDm(found, async () => {
      const current = await this.dms
        .findOneAndUpdate(
          { _id: found._id },
          { $set: { ...set, updated_at: new Date() } },
          { new: false, timestamps: false },
        )
        .lean<LeanDm>()
        .exec();
      const after = current && (await this.dms.findById(found._id).lean<LeanDm>().exec());
      return [current, after] as const;
    });
    if (!before || !dm) throw notFound();
    if (set.read !== undefined && set.read !== before.read && dm.direction === 'inbound') {
      await this.recount(dm);
    }
    this.emitChanged(dm, 'updated');
    this.logger.log({ dmId: id, accountId: dm.platform_account_id }, 'dm updated');
    return { success: true as const, data: serializeDm(dm) };
  }

  async remove(user: AuthUser, id: string, hard: boolean) {
    const owned = await this.accounts.listOwnedAccountIds(user);
    const found = await this.dms
      .findOne({ _id: new Types.ObjectId(id), platform_account_id: { $in: owned } })
      .lean<LeanDm>()
      .exec();
    if (!found) throw notFound();
    const dm = await this.writeLock.forDm(found, () =>
      hard
        ? this.dms.findOneAndDelete({ _id: found._id }).lean<LeanDm>().exec()
        : this.dms
            .findOneAndUpdate(
              { _id: found._id },
              { $set: { is_deleted: true, updated_at: new Date() } },
              { new: true, timestamps: false },
            )
            .lean<LeanDm>()
            .exec(),
    );
    if (!dm) throw notFound();
    if (dm.direction === 'inbound') await this.recount(dm);
    this.emitChanged(dm, hard ? 'deleted' : 'updated');
    this.logger.log({ dmId: id, accountId: dm.platform_account_id, hard }, 'dm deleted');
    return hard
      ? { success: true as const, deleted: true as const }
      : { success: true as const, deleted: false as const, soft_deleted: true as const };
  }

  private async recount(dm: LeanDm): Promise<void> {
    const customer = customerOf(dm);
    if (!customer) return;
    await this.conversationsWriter.recountUnread(dm.platform_account_id, customer);
    this.events.emit(CONVERSATION_CHANGED, {
      userId: dm.user_id ?? '',
      accountId: dm.platform_account_id,
      conversationId: `${dm.platform_account_id}:${customer}`,
    } satisfies ConversationChangedEvent);
  }

  private emitChanged(dm: LeanDm, change: DmChangedEvent['change']): void {
    const customer = customerOf(dm) ?? '';
    const event: DmChangedEvent = {
      userId: dm.user_id ?? '',
      accountId: dm.platform_account_id,
      dmId: String(dm._id),
      conversationId: `${dm.platform_account_id}:${customer}`,
      change,
    };
    this.events.emit(DM_CHANGED, event);
  }

  // ------------------------------------------------------------------ reactions

  async react(user: AuthUser, id: string, reaction: string | null) {
    const dm = await this.findOwned(user, id);
    const customer = customerOf(dm);
    if (!dm.message_id || !customer) {
      throw new AppError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'NOT_REACTABLE',
        'This DM has no Instagram message id to react to',
      );
    }
    const account = await this.accounts.getSendableAccount(user, dm.platform_account_id);
    if (reaction === null) await this.graph.unreact(account.graph, customer, dm.message_id);
    else await this.graph.react(account.graph, customer, dm.message_id, reaction);

    // FerretDB ignores $pull with a condition: rewrite the array from a read under the lock.
    const updated = await this.writeLock.forDm(dm, async () => {
      const current = await this.dms.findById(dm._id).lean<LeanDm>().exec();
      if (!current) return null;
      const others = (current.reactions ?? []).filter((r) => r.sender_id !== account.igId);
      const now = new Date();
      const reactions =
        reaction === null ? others : [...others, { sender_id: account.igId, reaction, at: now }];
      // As ingest does: Meta's late echo of an earlier react must not bring this one back.
      const removals = (current.reactions_removed ?? []).filter(
        (r) => r.sender_id !== account.igId,
      );
      if (reaction === null) removals.push({ sender_id: account.igId, at: now });
      return this.dms
        .findOneAndUpdate(
          { _id: dm._id },
          { $set: { reactions, reactions_removed: removals } },
          { new: true },
        )
        .lean<LeanDm>()
        .exec();
    });
    if (!updated) throw notFound();
    this.emitChanged(updated, 'updated');
    return { success: true as const, data: serializeDm(updated) };
  }

  // ------------------------------------------------------------------ conversations

  private parseConversationId(id: string): { accountId: string; customerId: string } {
    const at = id.indexOf(':');
    return { accountId: id.slice(0, at), customerId: id.slice(at + 1) };
  }

  private async findConversation(user: AuthUser, id: string) {
    const { accountId } = this.parseConversationId(id);
    const owned = await this.accounts.listOwnedAccountIds(user);
    if (!owned.includes(accountId)) throw conversationNotFound();
    const conv = await this.conversations
      .findOne({ _id: id, platform_account_id: accountId })
      .lean<InstagramConversation>()
      .exec();
    if (!conv) throw conversationNotFound();
    return conv;
  }

  async typing(user: AuthUser, conversationId: string, on: boolean) {
    const conv = await this.findConversation(user, conversationId);
    const account = await this.accounts.getSendableAccount(user, conv.platform_account_id);
    await this.graph.senderAction(account.graph, conv.customer_id, on ? 'typing_on' : 'typing_off');
    return { success: true as const, typing: on };
  }

  async markConversationRead(user: AuthUser, conversationId: string) {
    const conv = await this.findConversation(user, conversationId);
    const accountId = conv.platform_account_id;
    const unread = { direction: 'inbound', read: false, is_deleted: { $ne: true } };
    const now = new Date();
    const [byCustomer, legacy] = await this.writeLock.forThread(accountId, conv.customer_id, () =>
      Promise.all([
        this.dms
          .updateMany(
            { platform_account_id: accountId, customer_id: conv.customer_id, ...unread },
            { $set: { read: true, updated_at: now } },
            { timestamps: false },
          )
          .exec(),
        // Legacy documents carry no customer_id: the customer is the sender of inbound DMs.
        this.dms
          .updateMany(
            {
              platform_account_id: accountId,
              sender_id: conv.customer_id,
              customer_id: { $exists: false },
              ...unread,
            },
            { $set: { read: true, updated_at: now } },
            { timestamps: false },
          )
          .exec(),
      ]),
    );
    await this.conversationsWriter.recountUnread(accountId, conv.customer_id);
    const marked = byCustomer.modifiedCount + legacy.modifiedCount;
    this.events.emit(CONVERSATION_CHANGED, {
      userId: user.id,
      accountId,
      conversationId,
    } satisfies ConversationChangedEvent);

    // The local read state is what the dashboard needs; mark_seen is best effort (Meta refuses it
    // outside the messaging window).
    let markSeen = false;
    try {
      const account = await this.accounts.getSendableAccount(user, accountId);
      await this.graph.senderAction(account.graph, conv.customer_id, 'mark_seen');
      markSeen = true;
    } catch (error) {
      const code = error instanceof AppError ? error.code : 'UNKNOWN';
      this.logger.warn({ conversationId, code }, 'mark_seen not sent');
    }
    return { success: true as const, marked, unread_count: 0, mark_seen: markSeen };
  }

  async listConversations(user: AuthUser, q: ListConversationsQueryDto) {
    const accountIds = await this.scopeAccounts(user, q.platform_account_id);
    const counted = countsTotal(q);
    const empty = {
      success: true as const,
      data: [] as unknown[],
      total: counted ? 0 : null,
      limit: q.limit,
      next_cursor: null as string | null,
    };
    if (accountIds.length === 0) return empty;
    // Served by { platform_account_id: 1, last_message_at: -1, _id: -1 }.
    const filter: FilterQuery<InstagramConversation> = {
      platform_account_id: accountIds.length === 1 ? accountIds[0] : { $in: accountIds },
    };
    if (q.unread_only) filter.unread_count = { $gt: 0 };
    const pageFilter: FilterQuery<InstagramConversation> = { ...filter };
    if (q.cursor !== undefined) {
      const k = decodeCursor(q.cursor, 'conversation');
      const at = new Date(k.t);
      pageFilter.$and = [
        { last_message_at: { $lte: at } },
        { $or: [{ last_message_at: { $lt: at } }, { _id: { $lt: k.id } }] },
      ];
    }
    const [convs, total] = await Promise.all([
      this.conversations
        .find(pageFilter)
        .sort({ last_message_at: -1, _id: -1 })
        .limit(q.limit)
        .lean<InstagramConversation[]>()
        .exec(),
      counted ? this.conversations.countDocuments(filter).exec() : null,
    ]);
    const now = Date.now();
    const data = convs.map((c) => ({
      _id: c._id,
      platform_account_id: c.platform_account_id,
      customer_id: c.customer_id,
      customer: c.customer ?? null,
      last_message: c.last_message ?? null,
      last_message_at: c.last_message_at ?? null,
      last_inbound_at: c.last_inbound_at ?? null,
      unread_count: c.unread_count ?? 0,
      window: windowOf(c.last_inbound_at, now),
      updated_at: c.updated_at ?? null,
    }));
    const last = convs.at(-1);
    const nextCursor =
      convs.length === q.limit && last?.last_message_at instanceof Date
        ? encodeCursor({ t: last.last_message_at.getTime(), id: last._id })
        : null;
    return { ...empty, data, total, next_cursor: nextCursor };
  }
}
