import type { Types } from 'mongoose';
import { type Activity, latest } from './account-activity.service';
import { CONNECT_SCOPES, type RoutedAccountStatus } from './accounts.types';
import type { AccountResponseDto } from './dto/account-response.dto';
import type { Account } from './schemas/account.schema';
import type { AccountConfig } from './schemas/user-settings.schema';
import { isConfigEnabled } from './user-settings.service';

/* Pure reads of an `accounts` document: kept apart so connect and the routes map it the same way. */

type AccountDoc = Account & { _id: Types.ObjectId };

export function igIdOf(account: Account): string {
  return account.instagram_data?.ig_id ?? account.instagram_data?.id ?? account.meta?.id ?? '';
}

/** Legacy documents have no status and count as active. */
export function statusOf(account: Account): RoutedAccountStatus {
  if (account.is_deleted) return 'disconnected';
  return account.status ?? 'active';
}

export function toResponse(
  doc: AccountDoc,
  config: AccountConfig | null | undefined,
  activity: Activity | undefined,
): AccountResponseDto {
  return {
    id: doc._id.toHexString(),
    ig_id: igIdOf(doc),
    username: doc.meta?.username ?? doc.instagram_data?.username ?? null,
    name: doc.meta?.name ?? null,
    account_type: doc.instagram_data?.account_type ?? null,
    status: statusOf(doc),
    status_reason: doc.status_reason ?? null,
    token_expires_at:
      doc.token_expires_at ??
      (doc.updated_at && doc.expires_in
        ? new Date(new Date(doc.updated_at).getTime() + doc.expires_in * 1000)
        : null),
    token_refreshed_at: doc.token_refreshed_at ?? null,
    scopes: doc.scopes ?? [],
    missing_scopes: missingScopes(doc.scopes),
    subscribed_fields: doc.subscribed_fields ?? [],
    subscription_checked_at: doc.subscription_checked_at ?? null,
    subscription_error: doc.subscription_error ?? null,
    enabled: isConfigEnabled(config),
    config_name: config?.config_name ?? null,
    // Documents written before account_activity existed still carry their own.
    last_webhook_at: latest(activity?.last_webhook_at, doc.last_webhook_at),
    created_at: doc.created_at ?? null,
    updated_at: doc.updated_at ?? null,
  };
}

/** The scopes asked for on connect that the grant lacks; null when the grant was not recorded. */
export function missingScopes(granted: readonly string[] | undefined): string[] | null {
  if (!granted) return null;
  return CONNECT_SCOPES.filter((scope) => !granted.includes(scope));
}
