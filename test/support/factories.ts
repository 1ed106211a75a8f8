import { Types } from 'mongoose';
import type { Business, MetaSimulator } from '../../meta-simulator';
import { TokenCipher } from '../../src/accounts/token-cipher';
import { newUserId, type TestApp } from './e2e';

export interface GivenAccountOptions {
  userId: string;
  igId: string;
  /** Plaintext; stored encrypted with the app's ENCRYPTION_KEY. */
  accessToken: string;
  username?: string;
  name?: string;
  /** The user_settings config's is_active; default true. */
  enabled?: boolean;
  status?: 'active' | 'needs_reauth' | 'disconnected';
  /** Seconds of validity counted from now; default 60 days. */
  expiresIn?: number;
  /** Stored as is (e.g. a legacy Fernet token): skips encryption of accessToken. */
  storedAccessToken?: string;
  /** Extra top-level fields of the accounts document (e.g. token_expires_at, updated_at). */
  extra?: Record<string, unknown>;
  /** false: no user_settings config for it (a legacy account). */
  withConfig?: boolean;
}

export interface GivenAccount {
  accountId: string;
  userId: string;
  igId: string;
}

const SIXTY_DAYS = 60 * 24 * 3600;

/**
 * An `accounts` document in the reference shape (the Python service's fields plus igdm's), and its
 * config in the user's `user_settings` (created on first use), written straight to the database.
 */
export async function givenAccount(
  app: TestApp,
  options: GivenAccountOptions,
): Promise<GivenAccount> {
  const { userId, igId } = options;
  const username = options.username ?? `shop_${igId.slice(-6)}`;
  const name = options.name ?? `Shop ${igId.slice(-6)}`;
  const expiresIn = options.expiresIn ?? SIXTY_DAYS;
  const now = new Date();
  const _id = new Types.ObjectId();
  const db = app.connection.db!;

  await db.collection('accounts').insertOne({
    _id,
    user_id: userId,
    platform: 'meta_instagram',
    access_token:
      options.storedAccessToken ??
      new TokenCipher(app.env.ENCRYPTION_KEY).encrypt(options.accessToken, _id.toHexString()),
    expires_in: expiresIn,
    instagram_data: { ig_id: igId, id: igId, username },
    meta: { id: igId, name, username },
    created_at: now,
    updated_at: now,
    status: options.status ?? 'active',
    token_expires_at: new Date(now.getTime() + expiresIn * 1000),
    token_refreshed_at: now,
    ...options.extra,
  });

  if (options.withConfig !== false) {
    await db.collection('user_settings').updateOne(
      { user_id: userId, platform: 'instagram' },
      {
        $setOnInsert: {
          user_id: userId,
          platform: 'instagram',
          is_active: true,
          is_deleted: false,
          created_at: now,
        },
        $set: { updated_at: now },
        $push: {
          configs: {
            config_name: name,
            account_id: _id.toHexString(),
            is_active: options.enabled ?? true,
            is_deleted: false,
          },
        },
      } as never,
      { upsert: true },
    );
  }
  return { accountId: _id.toHexString(), userId, igId };
}

export interface GivenTenantOptions {
  /** The igdm user it is connected under; default a new one. */
  userId?: string;
  /** The user_settings config's is_active; default true. */
  enabled?: boolean;
  status?: GivenAccountOptions['status'];
  /** Options of the simulator's business (e.g. its username). */
  business?: Parameters<MetaSimulator['createBusiness']>[0];
}

export interface GivenTenant {
  biz: Business;
  account: GivenAccount;
  userId: string;
}

/**
 * A tenant: a business of the Meta simulator, connected in igdm (without the OAuth flow) under
 * `userId` with the business's igId, token, username and name.
 */
export async function givenTenant(
  app: TestApp,
  meta: MetaSimulator,
  options: GivenTenantOptions = {},
): Promise<GivenTenant> {
  const userId = options.userId ?? newUserId();
  const biz = meta.createBusiness(options.business);
  const account = await givenAccount(app, {
    userId,
    igId: biz.igId,
    accessToken: biz.accessToken,
    username: biz.username,
    name: biz.name,
    enabled: options.enabled,
    status: options.status,
  });
  return { biz, account, userId };
}

/** The `accounts` document as stored (raw, straight from the database). */
export function storedAccount(app: TestApp, accountId: string) {
  return app.connection.db!.collection('accounts').findOne({ _id: new Types.ObjectId(accountId) });
}

/** How many documents of `collection` belong to the account (by platform_account_id). */
export function countForAccount(app: TestApp, collection: string, accountId: string) {
  return app.connection
    .db!.collection(collection)
    .countDocuments({ platform_account_id: accountId });
}
