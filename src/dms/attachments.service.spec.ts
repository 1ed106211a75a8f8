import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Model, Types } from 'mongoose';
import type { AccountsService } from '../accounts/accounts.service';
import { AppError } from '../common/errors/app-error';
import type { AppConfig } from '../config/app-config';
import type { InstagramGraphService } from '../instagram-graph/instagram-graph.service';
import { AttachmentsService } from './attachments.service';
import type { DmWriteLock } from './dm-write-lock';
import { DEFAULT_MEDIA_HOSTS } from './media-hosts';
import type { InstagramDm } from './schemas/instagram-dm.schema';

const exec = <T>(value: T) => ({ lean: () => ({ exec: () => Promise.resolve(value) }) });

/** The service over an in-memory DM, with Graph answering `graphUrl` for its image. */
function serviceWith(storedUrl: string, graphUrl: string) {
  const dm = {
    _id: new Types.ObjectId(),
    platform_account_id: 'acc1',
    user_id: 'u1',
    message_id: 'mid1',
    attachments: [{ type: 'image', url: storedUrl, url_fetched_at: new Date() }],
  };
  const dms = {
    findOne: () => exec(dm),
    findById: () => exec(dm),
    updateOne: (_filter: unknown, update: { $set: Partial<typeof dm> }) => {
      Object.assign(dm, update.$set);
      return { exec: () => Promise.resolve() };
    },
  } as unknown as Model<InstagramDm>;
  const accounts = {
    listOwnedAccountIds: () => Promise.resolve(['acc1']),
    getGraphAccount: () => Promise.resolve({ accountId: 'acc1' }),
  } as unknown as AccountsService;
  const graph = {
    getMessage: jest.fn(() =>
      Promise.resolve({ id: 'mid1', attachments: { data: [{ image_data: { url: graphUrl } }] } }),
    ),
  };
  const writeLock = { forDm: (_dm: unknown, fn: () => unknown) => fn() } as unknown as DmWriteLock;
  const config = new ConfigService({
    MEDIA_URL_TTL_MS: 3_600_000,
    MEDIA_HOSTS: DEFAULT_MEDIA_HOSTS,
  }) as unknown as AppConfig;
  const service = new AttachmentsService(
    dms,
    accounts,
    graph as unknown as InstagramGraphService,
    writeLock,
    new EventEmitter2(),
    config,
  );
  return { service, graph, dm };
}

describe('AttachmentsService.liveUrl and MEDIA_HOSTS', () => {
  const user = { id: 'u1' } as Parameters<AttachmentsService['liveUrl']>[0];
  let fetchSpy: jest.SpyInstance;
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));
  beforeEach(() => {
    fetchSpy = jest.spyOn(global, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
  });
  afterEach(() => fetchSpy.mockRestore());

  it('should re-read a stored URL off the list without requesting it', async () => {
    const fresh = 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=s';
    const { service, graph, dm } = serviceWith('http://10.0.0.7:8080/internal', fresh);
    await expect(service.liveUrl(user, dm._id.toHexString(), 0)).resolves.toBe(fresh);
    expect(graph.getMessage).toHaveBeenCalledTimes(1);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('should answer 410 rather than redirect to a URL off the list that Graph gives', async () => {
    const { service, dm } = serviceWith(
      'http://169.254.169.254/latest/meta-data/',
      'https://attacker.example/x.png',
    );
    const failure = await service.liveUrl(user, dm._id.toHexString(), 0).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ status: 410, code: 'MEDIA_EXPIRED' });
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('should probe and keep a young URL on the list', async () => {
    const stored = 'https://scontent-iad3-1.cdninstagram.com/v/1.jpg';
    const { service, graph, dm } = serviceWith(stored, 'https://lookaside.fbsbx.com/x');
    await expect(service.liveUrl(user, dm._id.toHexString(), 0)).resolves.toBe(stored);
    expect(fetchSpy).toHaveBeenCalledWith(stored, expect.objectContaining({ method: 'HEAD' }));
    expect(graph.getMessage).not.toHaveBeenCalled();
  });
});
