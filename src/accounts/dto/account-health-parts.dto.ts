import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/*
 * The parts of an account's health that higher modules (dms, webhook, sync) fill in through
 * AccountHealthRegistry contributors. They live in accounts, not in those modules, because the
 * account reply embeds them and accounts must not import the modules that depend on it.
 */

export class DmCountsDto {
  @ApiProperty({ description: 'DMs stored for the account (soft-deleted ones excluded)' })
  total!: number;
  @ApiProperty({ description: 'Unread inbound DMs, summed over its conversations' })
  unread!: number;
}

export class DeliveryHealthDto {
  @ApiProperty({
    description:
      'Webhook deliveries naming this account that no connected account could take (kept for replay on connect)',
  })
  unroutable!: number;
  @ApiProperty({
    description:
      'Deliveries that failed processing after every retry. A failed delivery stores no account: it is attributed by the entry ids of its body',
  })
  failed!: number;
}

export class ImportStatusDto {
  @ApiProperty({ enum: ['never', 'running', 'done', 'failed'] })
  state!: 'never' | 'running' | 'done' | 'failed';
  @ApiPropertyOptional({ enum: ['connect', 'manual', 'resume'], nullable: true })
  trigger!: 'connect' | 'manual' | 'resume' | null;
  @ApiProperty({ nullable: true, type: Date }) started_at!: Date | null;
  @ApiProperty({ nullable: true, type: Date }) finished_at!: Date | null;
  @ApiProperty({ description: 'Conversations read so far' }) threads_done!: number;
  @ApiProperty({
    description: 'Conversations with more messages than Meta details (the 20 newest are imported)',
  })
  threads_truncated!: number;
  @ApiProperty({ description: 'Messages Meta returned with details' }) messages_seen!: number;
  @ApiProperty({ description: 'Messages stored by this import (new DMs)' })
  messages_stored!: number;
  @ApiProperty({ description: 'Messages igdm already had (webhook, earlier import)' })
  messages_known!: number;
  @ApiProperty({ nullable: true, type: String }) error_code!: string | null;
  @ApiProperty({
    description: 'Why older history is missing: Meta serves only the newest messages of a thread',
  })
  note!: string;
}

export class ReconcileRunDto {
  @ApiProperty({ type: Date }) started_at!: Date;
  @ApiProperty({ nullable: true, type: Date }) finished_at!: Date | null;
  @ApiProperty({ enum: ['ok', 'failed'] }) status!: 'ok' | 'failed';
  @ApiProperty() threads_checked!: number;
  @ApiProperty() messages_checked!: number;
  @ApiProperty({ description: 'Messages Meta has and igdm had not: stored now' })
  stored!: number;
  @ApiProperty() already_known!: number;
  @ApiProperty({ description: 'Left to the webhook: younger than SYNC_RECONCILE_GRACE_MS' })
  too_recent!: number;
  @ApiProperty({ description: 'Conversations whose gap may reach past the 20 newest messages' })
  threads_truncated!: number;
  @ApiProperty({ description: 'The webhook subscription had drifted and was restored' })
  subscription_restored!: boolean;
  @ApiProperty({ type: [String], description: 'Fields missing before the run restored them' })
  subscription_missing!: string[];
  @ApiProperty({ nullable: true, type: String }) error_code!: string | null;
}

export class ReconcileStatusDto {
  @ApiProperty({ nullable: true, type: ReconcileRunDto }) last_run!: ReconcileRunDto | null;
  @ApiProperty({ description: 'Messages reconciliation has stored for the account, all runs' })
  total_stored!: number;
  @ApiProperty({ type: [ReconcileRunDto], description: 'Most recent runs, newest first' })
  recent_runs!: ReconcileRunDto[];
}
