import type { GraphAccount } from '../instagram-graph/instagram-graph.types';

export type RoutedAccountStatus = 'active' | 'needs_reauth' | 'disconnected';

/** What webhook ingest needs to route an entry to its account (docs/contracts.md). */
export interface RoutedAccount {
  /** accounts._id as a hex string (= instagram_dms.platform_account_id). */
  accountId: string;
  userId: string;
  /** instagram_data.ig_id */
  igId: string;
  username?: string;
  name?: string;
  /** The account's user_settings config is active and not deleted; no config (legacy) counts as enabled. */
  ingestEnabled: boolean;
  status: RoutedAccountStatus;
}

export type SendableAccount = RoutedAccount & { graph: GraphAccount };

/** Emitted after an account was connected or reconnected (webhook replays unroutable deliveries). */
export const ACCOUNT_CONNECTED = 'account.connected';
export interface AccountConnectedEvent {
  accountId: string;
  userId: string;
  igId: string;
}

/** Emitted after an account was removed; with `purge` the dms module deletes its DMs. */
/** Emitted when a user turns an account's config back on (PATCH is_active: true). */
export const ACCOUNT_ENABLED = 'account.enabled';
export interface AccountEnabledEvent {
  accountId: string;
  userId: string;
}

export const ACCOUNT_DELETED = 'account.deleted';
export interface AccountDeletedEvent {
  accountId: string;
  userId: string;
  purge: boolean;
}

/** Webhook fields every connected account is subscribed to. */
export const WEBHOOK_FIELDS = [
  'messages',
  'message_reactions',
  'messaging_seen',
  'messaging_postbacks',
  'messaging_referral',
  'message_edit',
  'comments',
] as const;

/** Scopes asked for on connect (Business Login for Instagram). */
export const CONNECT_SCOPES = [
  'instagram_business_basic',
  'instagram_business_manage_messages',
  'instagram_business_manage_comments',
] as const;
