import { ApiProperty } from '@nestjs/swagger';

/** An account as the dashboard sees it: never a token. */
export class AccountResponseDto {
  /** accounts._id (= platform_account_id of its DMs). */
  id!: string;
  /** Instagram professional account id (webhook entry.id). */
  ig_id!: string;
  username!: string | null;
  /** Business display name. */
  name!: string | null;
  account_type!: string | null;
  @ApiProperty({ enum: ['active', 'needs_reauth', 'disconnected'] })
  status!: 'active' | 'needs_reauth' | 'disconnected';
  /** Why the account needs to be reconnected. */
  status_reason!: string | null;
  token_expires_at!: Date | null;
  token_refreshed_at!: Date | null;
  /** Scopes granted when the account was connected (the user may untick some on Instagram). */
  scopes!: string[];
  /**
   * Scopes igdm asks for that were not granted: messaging or comments do not work without them,
   * reconnect and leave them ticked. null when unknown (an account connected by the Python service).
   */
  @ApiProperty({ type: [String], nullable: true, example: ['instagram_business_manage_comments'] })
  missing_scopes!: string[] | null;
  /** Webhook fields Meta reports as subscribed (read back after subscribing). */
  subscribed_fields!: string[];
  subscription_checked_at!: Date | null;
  /** Error code of the last failed subscription attempt. */
  subscription_error!: string | null;
  /** From the user's settings: ingest and sending run only when enabled. */
  enabled!: boolean;
  config_name!: string | null;
  last_webhook_at!: Date | null;
  created_at!: Date | null;
  updated_at!: Date | null;
}

export class AccountReplyDto {
  success!: true;
  data!: AccountResponseDto;
}

export class AccountListReplyDto {
  success!: true;
  @ApiProperty({ type: [AccountResponseDto] })
  data!: AccountResponseDto[];
}

export class DeletedAccountDto {
  id!: string;
  /** Meta confirmed the webhook unsubscription. */
  unsubscribed!: boolean;
  /** DMs of the account are being deleted. */
  purge!: boolean;
}

export class DeletedAccountReplyDto {
  success!: true;
  data!: DeletedAccountDto;
}

export class ConnectUrlDto {
  /**
   * Send the browser here (Instagram's consent page). Instagram redirects back to
   * /accounts/instagram/callback, which lands on FRONTEND_URL with
   * `instagram=authorized&connect_ticket=…`: finish with POST /accounts/instagram/connect/finish.
   */
  url!: string;
}

export class ConnectUrlReplyDto {
  success!: true;
  data!: ConnectUrlDto;
}
