import {
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { AccountsService } from '../accounts/accounts.service';
import {
  ACCOUNT_CONNECTED,
  ACCOUNT_DELETED,
  type AccountConnectedEvent,
  type AccountDeletedEvent,
} from '../accounts/accounts.types';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/errors/app-error';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { MetaApiError } from '../instagram-graph/meta-error';
import { AccountHealthRegistry } from '../accounts/account-health.registry';
import type { ImportStatusDto } from '../accounts/dto/account-health-parts.dto';
import { ConversationPacer } from './conversation-pacer';
import {
  AccountSyncState,
  ImportProgress,
  ImportTrigger,
} from './schemas/account-sync-state.schema';
import { SyncLeases, SyncLock } from './sync-leases.service';
import { SYNC_SETTINGS, SyncSettings } from './sync-settings';
import { ThreadSync } from './thread-sync.service';

/** Conversations per list page (Meta's default). */
const CONVERSATION_PAGE = 25;
/** The import lock lasts this long past the last thread read; renewed after every thread. */
const LOCK_TTL_MS = 5 * 60_000;
/** Automatic resumes after retryable failures stop after this many attempts in a row. */
const MAX_AUTO_ATTEMPTS = 5;
const RETRY_BASE_MS = 60_000;
const RETRY_MAX_MS = 3_600_000;

export const HISTORY_NOTE =
  'Meta serves only the 20 newest messages of each conversation with their content; older messages cannot be imported.';

export const importKey = (accountId: string) => `${accountId}:import`;
const lockKey = importKey;

/**
 * History import: reads an account's conversations through the Conversations API and stores
 * their messages like webhook ones (source `import`). Runs in the background on connect or on
 * request; its progress is a document of its own, written after every thread, so it survives
 * restarts: an interrupted import resumes (skipping the threads it has done) at start-up, and a
 * failed one when asked again or, for retryable failures, from the scheduled job.
 */
@Injectable()
export class HistoryImportService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HistoryImportService.name);
  private readonly runs = new Map<string, Promise<void>>();
  private readonly cancelled = new Set<string>();
  private stopping = false;
  private readonly importOnConnect: boolean;

  constructor(
    @InjectModel(AccountSyncState.name) private readonly states: Model<AccountSyncState>,
    private readonly leases: SyncLeases,
    private readonly threads: ThreadSync,
    private readonly accounts: AccountsService,
    private readonly insights: AccountHealthRegistry,
    private readonly graph: InstagramGraphService,
    private readonly pacer: ConversationPacer,
    @Inject(SYNC_SETTINGS) settings: SyncSettings,
  ) {
    this.importOnConnect = settings.importOnConnect;
  }

  // ---------------------------------------------------------------- triggers

  @OnEvent(ACCOUNT_CONNECTED)
  onConnected(event: AccountConnectedEvent): void {
    if (!this.importOnConnect) return;
    this.cancelled.delete(event.accountId);
    this.start(event.accountId, event.userId, 'connect').catch((error: unknown) =>
      this.logger.error(
        { accountId: event.accountId, err: errorCode(error) },
        'import not started',
      ),
    );
  }

  @OnEvent(ACCOUNT_DELETED)
  onDeleted(event: AccountDeletedEvent): void {
    // A running import stops after its current thread instead of writing DMs being purged.
    if (this.runs.has(event.accountId)) this.cancelled.add(event.accountId);
  }

  /** POST /accounts/:id/import: the caller's enabled, connected account. */
  async request(user: AuthUser, accountId: string): Promise<ImportStatusDto> {
    await this.accounts.getSendableAccount(user, accountId);
    this.cancelled.delete(accountId);
    await this.start(accountId, user.id, 'manual');
    return this.statusOf(accountId);
  }

  /** GET /accounts/:id/import */
  async status(user: AuthUser, accountId: string): Promise<ImportStatusDto> {
    await this.accounts.assertOwned(user, accountId);
    return this.statusOf(accountId);
  }

  async statusOf(accountId: string): Promise<ImportStatusDto> {
    return (await this.statusesOf([accountId])).get(accountId) ?? toDto(null);
  }

  async statusesOf(accountIds: string[]): Promise<Map<string, ImportStatusDto>> {
    const docs = await this.states.collection
      .find({ _id: { $in: accountIds.map(importKey) as never[] } })
      .toArray();
    const byAccount = new Map(
      (docs as unknown as ImportProgress[]).map((d) => [d.account_id, d] as const),
    );
    return new Map(accountIds.map((id) => [id, toDto(byAccount.get(id) ?? null)]));
  }

  /** Waits for the imports running in this process (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.runs.size > 0) await Promise.allSettled([...this.runs.values()]);
  }

  // ---------------------------------------------------------------- resume

  onApplicationBootstrap(): void {
    // Imports that were running when an instance stopped: their lock has lapsed or goes soon.
    this.resumeDue().catch((error: unknown) =>
      this.logger.warn({ err: errorCode(error) }, 'import resume check failed'),
    );
  }

  /**
   * Resumes interrupted imports (state running, nobody holding the lock) and retryable failures
   * whose retry time has come. Called at start-up and by the reconciliation job.
   */
  async resumeDue(now = new Date()): Promise<number> {
    const docs = (await this.states.collection
      .find({ kind: 'import', state: { $in: ['running', 'failed'] } })
      .limit(100)
      .toArray()) as unknown as ImportProgress[];
    let resumed = 0;
    for (const doc of docs) {
      if (this.stopping) break;
      if (this.runs.has(doc.account_id)) continue;
      if (doc.state === 'failed') {
        if (!doc.retry_at || new Date(doc.retry_at) > now) continue;
        if (doc.attempts >= MAX_AUTO_ATTEMPTS) continue;
      }
      if (await this.leases.isHeld(lockKey(doc.account_id))) continue;
      const status = await this.start(doc.account_id, doc.user_id, 'resume');
      if (status) resumed += 1;
    }
    return resumed;
  }

  // ---------------------------------------------------------------- the run

  /**
   * Starts (or resumes) the import of an account in the background unless it runs already
   * (here or on another instance). Resolves once the run is claimed and its state written.
   */
  async start(accountId: string, userId: string, trigger: ImportTrigger): Promise<boolean> {
    if (this.stopping || this.runs.has(accountId)) return false;
    const lock = await this.leases.lock(lockKey(accountId), LOCK_TTL_MS);
    if (!lock) return false;
    if (this.runs.has(accountId)) {
      await lock.release();
      return false;
    }
    let progress: ImportProgress;
    try {
      const previous = (await this.states.collection.findOne({
        _id: importKey(accountId) as never,
      })) as unknown as ImportProgress | null;
      progress = this.begin(accountId, userId, trigger, previous);
      await this.save(progress);
    } catch (error) {
      await lock.release();
      throw error;
    }
    this.logger.log(
      { accountId, trigger, resumed: progress.threads_done > 0 },
      'history import started',
    );
    const run = this.execute(progress, lock).finally(() => {
      this.runs.delete(accountId);
      this.cancelled.delete(accountId);
    });
    this.runs.set(accountId, run);
    return true;
  }

  /** A new run, or the continuation of one that did not finish (its counts and done threads). */
  private begin(
    accountId: string,
    userId: string,
    trigger: ImportTrigger,
    previous: ImportProgress | null,
  ): ImportProgress {
    const now = new Date();
    // A run cut short by the account's deletion starts over: the purge removed what it had stored.
    if (previous && previous.state !== 'done' && previous.error_code !== 'ACCOUNT_DELETED') {
      return {
        ...previous,
        user_id: userId,
        state: 'running',
        trigger,
        updated_at: now,
        finished_at: null,
        error_code: null,
        retry_at: null,
      };
    }
    return {
      _id: importKey(accountId),
      kind: 'import',
      account_id: accountId,
      user_id: userId,
      state: 'running',
      trigger,
      started_at: now,
      finished_at: null,
      updated_at: now,
      threads_done: 0,
      threads_truncated: 0,
      messages_seen: 0,
      messages_stored: 0,
      messages_known: 0,
      done_ids: [],
      error_code: null,
      attempts: 0,
      retry_at: null,
    };
  }

  private async execute(progress: ImportProgress, lock: SyncLock): Promise<void> {
    const accountId = progress.account_id;
    let interrupted = false;
    try {
      const graphAccount = await this.accounts.getGraphAccount(accountId);
      const account = await this.threads.routed(accountId, graphAccount.igId);
      if (!account?.ingestEnabled) {
        throw new AppError(
          HttpStatus.CONFLICT,
          'ACCOUNT_DISABLED',
          'Ingest is off for the account',
        );
      }
      const done = new Set(progress.done_ids);
      let after: string | undefined;
      pages: for (;;) {
        await this.pacer.turn(graphAccount.igId);
        const page = await this.graph.listConversations(graphAccount, {
          after,
          limit: CONVERSATION_PAGE,
        });
        for (const conversation of page.data) {
          if (this.stopping || this.cancelled.has(accountId)) {
            interrupted = true;
            break pages;
          }
          if (done.has(conversation.id)) continue;
          const result = await this.threads.syncThread(account, graphAccount, conversation.id, {
            source: 'import',
            graceMs: 0,
            now: Date.now(),
          });
          done.add(conversation.id);
          progress.done_ids.push(conversation.id);
          progress.threads_done += 1;
          if (result.truncated) progress.threads_truncated += 1;
          progress.messages_seen += result.seen;
          progress.messages_stored += result.stored;
          progress.messages_known += result.known;
          progress.updated_at = new Date();
          await this.save(progress);
          await lock.renew(LOCK_TTL_MS);
        }
        if (!page.nextCursor) break;
        after = page.nextCursor;
      }
      if (!interrupted) {
        progress.state = 'done';
        progress.finished_at = new Date();
        progress.attempts = 0;
        progress.done_ids = [];
        progress.updated_at = progress.finished_at;
        await this.save(progress);
        await this.insights.recordGraphSuccess(accountId, graphAccount.igId);
        this.logger.log(
          {
            accountId,
            threads: progress.threads_done,
            truncated: progress.threads_truncated,
            seen: progress.messages_seen,
            stored: progress.messages_stored,
            known: progress.messages_known,
          },
          'history import done',
        );
      } else if (this.cancelled.has(accountId)) {
        progress.state = 'failed';
        progress.error_code = 'ACCOUNT_DELETED';
        progress.finished_at = new Date();
        progress.updated_at = progress.finished_at;
        await this.save(progress);
        this.logger.log({ accountId, threads: progress.threads_done }, 'history import stopped');
      } else {
        // Left `running`: the next start-up resumes it.
        this.logger.log({ accountId, threads: progress.threads_done }, 'history import paused');
      }
    } catch (error) {
      const code = errorCode(error);
      progress.attempts += 1;
      progress.state = 'failed';
      progress.error_code = code;
      progress.finished_at = new Date();
      progress.updated_at = progress.finished_at;
      progress.retry_at = retryAt(error, progress.attempts);
      await this.save(progress).catch(() => undefined);
      this.logger.warn(
        { accountId, code, threads: progress.threads_done, attempts: progress.attempts },
        'history import failed',
      );
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  private async save(progress: ImportProgress): Promise<void> {
    await this.states.collection.replaceOne({ _id: progress._id as never }, progress, {
      upsert: true,
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.idle();
  }
}

function toDto(doc: ImportProgress | null): ImportStatusDto {
  if (!doc) {
    return {
      state: 'never',
      trigger: null,
      started_at: null,
      finished_at: null,
      threads_done: 0,
      threads_truncated: 0,
      messages_seen: 0,
      messages_stored: 0,
      messages_known: 0,
      error_code: null,
      note: HISTORY_NOTE,
    };
  }
  return {
    state: doc.state,
    trigger: doc.trigger,
    started_at: doc.started_at,
    finished_at: doc.finished_at,
    threads_done: doc.threads_done,
    threads_truncated: doc.threads_truncated,
    messages_seen: doc.messages_seen,
    messages_stored: doc.messages_stored,
    messages_known: doc.messages_known,
    error_code: doc.error_code,
    note: HISTORY_NOTE,
  };
}

export function errorCode(error: unknown): string {
  if (error instanceof AppError) return error.code;
  if (error instanceof Error) return error.name;
  return 'UNKNOWN';
}

/** Retryable failures (rate limits, Meta or network trouble) come back later by themselves. */
function retryAt(error: unknown, attempts: number): Date | null {
  if (!(error instanceof MetaApiError)) return null;
  if (error.reauthRequired) return null;
  const retryable = error.retryable || error.retry === 'rate_limit' || error.retry === 'transient';
  if (!retryable) return null;
  const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempts - 1));
  const wait = Math.max(backoff, (error.retryAfterSeconds ?? 0) * 1000);
  return new Date(Date.now() + wait);
}
