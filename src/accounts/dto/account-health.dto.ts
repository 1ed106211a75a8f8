import { ApiProperty } from '@nestjs/swagger';
import { AccountResponseDto } from './account-response.dto';
import {
  DeliveryHealthDto,
  DmCountsDto,
  ImportStatusDto,
  ReconcileStatusDto,
} from './account-health-parts.dto';

export class TokenHealthDto {
  @ApiProperty({ nullable: true, type: Date }) expires_at!: Date | null;
  @ApiProperty({ nullable: true, type: Date }) refreshed_at!: Date | null;
  @ApiProperty({
    enum: ['ok', 'due', 'retrying', 'expired', 'needs_reauth', 'unknown'],
    description:
      'due: the hourly job refreshes it soon; retrying: a refresh failed and is retried later',
  })
  refresh_state!: 'ok' | 'due' | 'retrying' | 'expired' | 'needs_reauth' | 'unknown';
}

export class SubscriptionHealthDto {
  @ApiProperty({ type: [String], description: 'Webhook fields as Meta last reported them' })
  fields!: string[];
  @ApiProperty({ type: [String] }) wanted!: string[];
  @ApiProperty({ type: [String] }) missing!: string[];
  @ApiProperty({ nullable: true, type: Date }) checked_at!: Date | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
}

export class AccountHealthDto {
  @ApiProperty() account_id!: string;
  @ApiProperty({ nullable: true, type: String }) username!: string | null;
  @ApiProperty({ enum: ['active', 'needs_reauth', 'disconnected'] })
  status!: 'active' | 'needs_reauth' | 'disconnected';
  @ApiProperty({ description: 'No problem is reported' }) ok!: boolean;
  @ApiProperty({
    type: [String],
    example: ['SUBSCRIPTION_INCOMPLETE', 'MISSED_WEBHOOKS_BACKFILLED'],
    description: 'Stable codes of the conditions that need attention or explain a recent gap',
  })
  problems!: string[];
  @ApiProperty({ nullable: true, type: Date }) last_webhook_at!: Date | null;
  @ApiProperty({ nullable: true, type: Date }) last_graph_success_at!: Date | null;
  @ApiProperty({ type: TokenHealthDto }) token!: TokenHealthDto;
  @ApiProperty({ type: SubscriptionHealthDto }) subscription!: SubscriptionHealthDto;
  @ApiProperty({ nullable: true, type: DeliveryHealthDto }) deliveries!: DeliveryHealthDto | null;
  @ApiProperty({ nullable: true, type: ImportStatusDto }) import!: ImportStatusDto | null;
  @ApiProperty({ nullable: true, type: ReconcileStatusDto })
  reconciliation!: ReconcileStatusDto | null;
}

export class AccountDetailDto extends AccountResponseDto {
  @ApiProperty({ nullable: true, type: DmCountsDto }) dm_counts!: DmCountsDto | null;
  @ApiProperty({ type: AccountHealthDto }) health!: AccountHealthDto;
}

export class AccountDetailReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: AccountDetailDto }) data!: AccountDetailDto;
}

export class HealthSummaryDto {
  @ApiProperty({ description: 'Every account of the caller is without problems' }) ok!: boolean;
  @ApiProperty() accounts_total!: number;
  @ApiProperty() accounts_with_problems!: number;
  @ApiProperty({ type: [AccountHealthDto] }) accounts!: AccountHealthDto[];
}

export class HealthSummaryReplyDto {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: HealthSummaryDto }) data!: HealthSummaryDto;
}
