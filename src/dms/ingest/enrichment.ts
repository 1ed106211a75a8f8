import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { AccountsService } from '../../accounts/accounts.service';
import type { RoutedAccount } from '../../accounts/accounts.types';
import { AppError } from '../../common/errors/app-error';
import type { AppConfig } from '../../config/app-config';
import { InstagramGraphService } from '../../instagram-graph/instagram-graph.service';
import { ConversationsService } from '../conversations.service';
import { DmWriteLock } from '../dm-write-lock';
import { InstagramDm } from '../schemas/instagram-dm.schema';
import { DmChangeEmitter } from './dm-change-emitter';
import { customerNameField, PROFILE_TTL_MS } from './ingest.types';
import { DmLedger } from './ledger';
import { ProfileReads } from './profile-reads';
import { StorePressure } from './store-pressure';

/**
 * After the ack: the customer's profile on the thread and names on its DMs, and the text of an
 * edit Meta sent without it. Each step reads Graph and may fail; the caller retries later.
 */
@Injectable()
export class ProfileEnrichment {
  /** Base delay of the profile retry backoff (WEBHOOK_ENRICH_RETRY_MS; tests shorten it). */
  private readonly retryBaseMs: number;

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    private readonly ledger: DmLedger,
    private readonly conversations: ConversationsService,
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
    private readonly profiles: ProfileReads,
    private readonly writeLock: DmWriteLock,
    private readonly changes: DmChangeEmitter,
    private readonly pressure: StorePressure,
    @Inject(ConfigService) config: AppConfig,
  ) {
    this.retryBaseMs = config.get('WEBHOOK_ENRICH_RETRY_MS', { infer: true });
  }

  /**
   * Customer profile (cached on the thread, one Graph call per customer per day) and names on
   * the thread's DMs. Throws when Graph or the token fails; the caller retries later.
   */
  async enrichConversation(
    account: RoutedAccount,
    customerId: string,
    force = false,
  ): Promise<void> {
    if (!ProfileReads.mayRead(account)) {
      // Meta would refuse the token, or the user turned the account off: nothing is tried until
      // it is reconnected or turned on again (resumeProfiles).
      await this.conversations.profileParked(account.accountId, customerId);
      return;
    }
    const conv = await this.conversations.findById(account.accountId, customerId);
    if (!conv) return;
    const fetchedAt = conv.customer?.fetched_at ? new Date(conv.customer.fetched_at).getTime() : 0;
    let profile = conv.customer;
    try {
      if (force || conv.profile_pending || Date.now() - fetchedAt >= PROFILE_TTL_MS) {
        profile = await this.profiles.read(account, customerId, { fresh: force });
        await this.conversations.setProfile(account.accountId, customerId, profile);
      }
      await this.fillNames(account, customerId, profile?.name ?? profile?.username);
    } catch (error) {
      if (error instanceof AppError && error.code === 'ACCOUNT_REAUTH_REQUIRED') {
        // Found out while fetching (revoked since it was routed, or a token that does not decrypt).
        await this.conversations.profileParked(account.accountId, customerId);
        return;
      }
      const attempts = (conv.profile_attempts ?? 0) + 1;
      const delay = Math.min(this.retryBaseMs * 2 ** (attempts - 1), 3600_000);
      await this.conversations.profileFailed(
        account.accountId,
        customerId,
        new Date(Date.now() + delay),
      );
      throw error;
    }
  }

  /**
   * Puts the customer's name on the thread's DMs stored before it was known. They are named by
   * id (remembered on the thread when stored); only an overflowing thread is named by query,
   * which FerretDB answers with a scan. The business's name is set when a DM is stored.
   */
  private async fillNames(
    account: RoutedAccount,
    customerId: string,
    customerName: string | undefined,
  ): Promise<void> {
    if (!customerName) return;
    const { ids, overflow } = await this.conversations.takeUnnamed(account.accountId, customerId);
    for (const _id of ids) {
      await this.pressure.whenIdle(); // outside the thread's lock: the batch may need it
      await this.writeLock.forThread(account.accountId, customerId, async () => {
        const dm = await this.dms.findById(_id, {
          direction: 1,
          sender_name: 1,
          recipient_name: 1,
        });
        const field = customerNameField(dm?.direction);
        if (!dm || dm[field]) return;
        await this.dms
          .updateOne({ _id }, { $set: { [field]: customerName } }, { timestamps: false })
          .exec();
      });
    }
    if (!overflow) return;
    await this.writeLock.forThread(account.accountId, customerId, async () => {
      const scope = { platform_account_id: account.accountId, customer_id: customerId };
      for (const direction of ['inbound', 'outbound'] as const) {
        const field = customerNameField(direction);
        await this.dms
          .updateMany(
            { ...scope, direction, [field]: { $exists: false } },
            { $set: { [field]: customerName } },
          )
          .exec();
      }
    });
  }

  /** A text-less edit (num_edit > 0): the new text comes from Graph; the old text stays until then. */
  async refetchEditedText(account: RoutedAccount, mid: string): Promise<void> {
    const target = await this.ledger.findTarget(account.accountId, mid);
    if (!target?.edit_text_pending) return;
    const graphAccount = await this.accounts.getGraphAccount(account.accountId);
    const message = await this.graph.getMessage(graphAccount, mid);
    if (typeof message.message !== 'string') return;
    const text = message.message;
    const res = await this.writeLock.forDm(target, async () => {
      const current = await this.dms.findById(target._id, { edit_text_pending: 1 }).lean().exec();
      if (!current?.edit_text_pending) return { modifiedCount: 0 };
      return this.dms
        .updateOne(
          { _id: target._id },
          { $set: { text, updated_at: new Date() }, $unset: { edit_text_pending: '' } },
          { timestamps: false },
        )
        .exec();
    });
    if (res.modifiedCount > 0) {
      this.changes.emit(target, 'updated');
      // The thread's preview shows the new text if this is its last message.
      if (target.customer_id) await this.conversations.recordMessage({ ...target, text });
    }
  }
}
