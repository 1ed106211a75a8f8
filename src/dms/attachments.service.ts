import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { AccountsService } from '../accounts/accounts.service';
import type { AuthUser } from '../auth/auth-user';
import { AppError, NotFoundError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { MetaApiError } from '../instagram-graph/meta-error';
import { refreshAttachmentUrls } from './attachments.mapping';
import { isAllowedMediaUrl, type MediaHost, parseMediaHosts } from './media-hosts';
import { customerOf, DmWriteLock } from './dm-write-lock';
import { DM_CHANGED, DmChangedEvent } from './events/dm-events';
import { InstagramDm } from './schemas/instagram-dm.schema';

type StoredDm = InstagramDm & { _id: Types.ObjectId };

/** A HEAD that does not answer in this time says nothing; the stored URL is used as it is. */
const PROBE_TIMEOUT_MS = 3_000;

const dmNotFound = () => new NotFoundError('DM_NOT_FOUND', 'DM not found');
const attachmentNotFound = () =>
  new NotFoundError('ATTACHMENT_NOT_FOUND', 'This DM has no media attachment at that position');
const mediaExpired = () =>
  new AppError(
    HttpStatus.GONE,
    'MEDIA_EXPIRED',
    'Instagram no longer serves this media: the message was unsent or is older than the 20 newest of its conversation',
  );

/**
 * Live links to DM media. The record keeps Meta's CDN URL and when it was fetched; Meta signs
 * those URLs for a limited time, so before redirecting an old (TTL) or dead (HEAD 4xx) URL is
 * replaced by the one a fresh Graph read of the message gives. Only URLs on MEDIA_HOSTS are
 * probed or redirected to: a stored URL elsewhere is treated as dead, never requested.
 */
@Injectable()
export class AttachmentsService {
  private readonly logger = new Logger(AttachmentsService.name);
  private readonly ttlMs: number;
  private readonly mediaHosts: MediaHost[];
  /** One Graph read per DM at a time: concurrent opens of a stale DM share it. */
  private readonly inflight = new Map<string, Promise<StoredDm>>();

  constructor(
    @InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>,
    private readonly accounts: AccountsService,
    private readonly graph: InstagramGraphService,
    private readonly writeLock: DmWriteLock,
    private readonly events: EventEmitter2,
    @Inject(ConfigService) config: AppConfig,
  ) {
    this.ttlMs = config.get('MEDIA_URL_TTL_MS', { infer: true });
    // Validated at start-up (src/config/env.ts), so the list is never empty here.
    this.mediaHosts = parseMediaHosts(config.get('MEDIA_HOSTS', { infer: true })) ?? [];
  }

  /** A URL that serves attachment `n` (0-based) of the caller's DM `dmId` now. */
  async liveUrl(user: AuthUser, dmId: string, n: number): Promise<string> {
    const owned = await this.accounts.listOwnedAccountIds(user);
    if (owned.length === 0) throw dmNotFound();
    const dm = await this.dms
      .findOne({
        _id: new Types.ObjectId(dmId),
        platform_account_id: { $in: owned },
        is_deleted: { $ne: true },
      })
      .lean<StoredDm>()
      .exec();
    if (!dm) throw dmNotFound();
    const attachment = dm.attachments?.[n];
    if (!attachment?.url) throw attachmentNotFound();

    const fetchedAt = attachment.url_fetched_at ? new Date(attachment.url_fetched_at).getTime() : 0;
    const allowed = isAllowedMediaUrl(attachment.url, this.mediaHosts);
    if (!allowed)
      this.logger.warn({ dmId }, 'stored attachment URL is not on MEDIA_HOSTS; re-reading it');
    const young = allowed && Date.now() - fetchedAt < this.ttlMs;
    const gone = young && (await this.probe(attachment.url)) === 'gone';
    if (young && !gone) return attachment.url;

    const fresh = await this.refreshShared(dm);
    const url = fresh.attachments?.[n]?.url;
    // An old URL Graph gives again is still good; a dead one Graph cannot replace is not, and
    // neither is one off MEDIA_HOSTS, wherever it came from.
    if (!url || (gone && url === attachment.url) || !isAllowedMediaUrl(url, this.mediaHosts))
      throw mediaExpired();
    return url;
  }

  private refreshShared(dm: StoredDm): Promise<StoredDm> {
    const key = dm._id.toHexString();
    let running = this.inflight.get(key);
    if (!running) {
      running = this.refresh(dm).finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  /** Re-reads the message from Graph and stores the new URLs (under the thread's write lock). */
  private async refresh(dm: StoredDm): Promise<StoredDm> {
    if (!dm.message_id) throw mediaExpired();
    const account = await this.accounts.getGraphAccount(dm.platform_account_id);
    let message;
    try {
      message = await this.graph.getMessage(account, dm.message_id);
    } catch (error) {
      if (error instanceof MetaApiError && error.status === HttpStatus.NOT_FOUND) {
        this.logger.log({ dmId: dm._id.toHexString() }, 'media no longer served by Meta');
        throw mediaExpired();
      }
      throw error;
    }
    const now = new Date();
    const updated = await this.writeLock.forDm(dm, async () => {
      const current = await this.dms.findById(dm._id).lean<StoredDm>().exec();
      if (!current?.attachments?.length || current.is_unsent) return current;
      const { attachments, refreshed } = refreshAttachmentUrls(current.attachments, message, now);
      if (refreshed.length === 0) return current;
      // The whole array is written: FerretDB rejects positional updates.
      await this.dms
        .updateOne(
          { _id: current._id },
          { $set: { attachments, updated_at: now } },
          { timestamps: false },
        )
        .exec();
      return { ...current, attachments, updated_at: now };
    });
    if (!updated) throw dmNotFound();
    this.logger.log(
      { dmId: dm._id.toHexString(), accountId: dm.platform_account_id },
      'attachment URLs refreshed',
    );
    const event: DmChangedEvent = {
      userId: updated.user_id ?? '',
      accountId: updated.platform_account_id,
      dmId: updated._id.toHexString(),
      conversationId: `${updated.platform_account_id}:${customerOf(updated) ?? ''}`,
      change: 'updated',
    };
    this.events.emit(DM_CHANGED, event);
    return updated;
  }

  /** `gone` when the CDN answers 4xx (expired signature, removed asset). */
  private async probe(url: string): Promise<'alive' | 'gone' | 'unknown'> {
    if (!/^https?:\/\//i.test(url)) return 'unknown';
    try {
      const res = await fetch(url, {
        method: 'HEAD',
        redirect: 'manual',
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      if (res.status >= 400 && res.status < 500) return 'gone';
      return res.status < 400 ? 'alive' : 'unknown';
    } catch {
      return 'unknown';
    }
  }
}
