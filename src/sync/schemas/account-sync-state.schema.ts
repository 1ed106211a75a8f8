import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Schema as MongooseSchema } from 'mongoose';

export type ImportState = 'running' | 'done' | 'failed';
export type ImportTrigger = 'connect' | 'manual' | 'resume';

/** `account_sync_state` document `<accountId>:import`: progress of the account's history import. */
export interface ImportProgress {
  _id: string;
  kind: 'import';
  account_id: string;
  user_id: string;
  state: ImportState;
  trigger: ImportTrigger;
  started_at: Date;
  finished_at: Date | null;
  updated_at: Date;
  threads_done: number;
  threads_truncated: number;
  messages_seen: number;
  messages_stored: number;
  messages_known: number;
  /** Conversations already read by this run: a resumed run skips them. */
  done_ids: string[];
  error_code: string | null;
  /** Consecutive failed attempts; the scheduled resume gives up after a few. */
  attempts: number;
  /** When a retryable failure may be resumed automatically; null: only on request. */
  retry_at: Date | null;
}

export interface ReconcileRun {
  started_at: Date;
  finished_at: Date | null;
  status: 'ok' | 'failed';
  threads_checked: number;
  messages_checked: number;
  stored: number;
  already_known: number;
  too_recent: number;
  threads_truncated: number;
  subscription_restored: boolean;
  subscription_missing: string[];
  error_code: string | null;
}

/** `account_sync_state` document `<accountId>:reconcile`: what reconciliation found. */
export interface ReconcileHistory {
  _id: string;
  kind: 'reconcile';
  account_id: string;
  user_id: string;
  last_run: ReconcileRun | null;
  /** Newest first, a few only. */
  recent_runs: ReconcileRun[];
  total_stored: number;
  /** Start of the last successful run: the next one reads conversations updated since. */
  last_success_started_at: Date | null;
  /** Fields Meta kept right after our last re-subscription (fields the app lacks stay missing). */
  fields_after_restore: string[] | null;
  updated_at: Date;
}

/**
 * One document per account and kind (`<accountId>:import`, `<accountId>:reconcile`), each written
 * by the holder of its lease only: FerretDB rewrites a whole document per update, so two writers of
 * one document could lose each other's counts. Looked up by `_id`.
 */
@Schema({ collection: 'account_sync_state', versionKey: false, strict: false })
export class AccountSyncState {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true, enum: ['import', 'reconcile'] }) kind!: 'import' | 'reconcile';
  @Prop({ required: true }) account_id!: string;
  @Prop() user_id?: string;
  @Prop() state?: ImportState;
  @Prop({ type: MongooseSchema.Types.Mixed }) last_run?: ReconcileRun | null;
}

export const AccountSyncStateSchema = SchemaFactory.createForClass(AccountSyncState);
// The scheduled resume of interrupted or failed imports.
AccountSyncStateSchema.index({ kind: 1, state: 1 });
