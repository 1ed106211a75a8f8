import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import { Connection, Model, Types } from 'mongoose';
import { AccountTokensService } from './account-tokens.service';
import { AccountWriteLock } from './account-write-lock';
import { Account } from './schemas/account.schema';

const MARKER_COLLECTION = 'igdm_migrations';
const MARKER_ID = 'accounts-token-bound-v2';

/**
 * Tokens stored before they were bound to their account (or, during a key rotation, still under
 * ENCRYPTION_KEY_PREVIOUS) (igdm's `v1:`, the Python service's
 * Fernet tokens) are re-encrypted as `v2:` once, in the background at start-up, so that a
 * ciphertext copied into another account's document decrypts nowhere but in its own. Until then,
 * and for a token written later by an older instance, the next write of the account does the same.
 * A token that does not decrypt is left as it is (its account needs the right ENCRYPTION_KEY or a
 * reconnect, which writes a new one). Idempotent; several instances may run it together.
 */
@Injectable()
export class TokenBindingMigration implements OnApplicationBootstrap {
  private readonly logger = new Logger(TokenBindingMigration.name);

  constructor(
    @InjectModel(Account.name) private readonly accounts: Model<Account>,
    @InjectConnection() private readonly connection: Connection,
    private readonly tokens: AccountTokensService,
    private readonly writeLock: AccountWriteLock,
  ) {}

  onApplicationBootstrap(): void {
    this.run().catch((error: unknown) => {
      this.logger.error({ err: (error as Error).name }, 'token re-encryption failed');
    });
  }

  /** Returns how many tokens were re-encrypted. `force` runs again after the marker. */
  async run(opts: { force?: boolean } = {}): Promise<number> {
    const markers = this.connection.collection<{ _id: string; done_at: Date; reencrypted: number }>(
      MARKER_COLLECTION,
    );
    // During a key rotation every start runs: tokens still under the previous key move over.
    const once = !opts.force && !this.tokens.rotating;
    if (once && (await markers.findOne({ _id: MARKER_ID }))) return 0;
    let reencrypted = 0;
    const cursor = this.accounts
      .find({ access_token: { $exists: true } }, { _id: 1 })
      .lean<{ _id: Types.ObjectId }[]>()
      .cursor();
    for await (const { _id } of cursor) {
      // Read and written by _id under the account's lock: a refresh or a connect writing a new
      // token at the same moment is never overwritten by this older one.
      const done = await this.writeLock.run(_id, async () => {
        const current = await this.accounts.findById(_id, { access_token: 1 }).lean().exec();
        const stored = current?.access_token;
        if (!stored) return false;
        let plaintext: string;
        try {
          plaintext = this.tokens.decrypt(_id.toHexString(), stored);
        } catch {
          return false;
        }
        const update = this.tokens.reencrypted(_id.toHexString(), stored, plaintext);
        if (!update.access_token) return false;
        await this.accounts.collection.updateOne({ _id }, { $set: update });
        return true;
      });
      if (done) reencrypted += 1;
    }
    await markers.updateOne(
      { _id: MARKER_ID },
      { $set: { done_at: new Date(), reencrypted } },
      { upsert: true },
    );
    if (reencrypted > 0) this.logger.log({ reencrypted }, 'tokens bound to their accounts');
    return reencrypted;
  }
}
