import { ConfigModule } from '@nestjs/config';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test, TestingModule } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import net from 'node:net';
import { Writable } from 'node:stream';
import type { Business, Customer, MetaSimulator } from '../../meta-simulator';
import { startMetaSimulator } from '../../meta-simulator';
import { GRAPH_TUNING, GraphTuning } from '../../src/instagram-graph/graph-tuning';
import { InstagramGraphModule } from '../../src/instagram-graph/instagram-graph.module';
import { InstagramGraphService } from '../../src/instagram-graph/instagram-graph.service';
import {
  GraphAccount,
  INSTAGRAM_TOKEN_INVALID,
  InstagramTokenInvalidEvent,
} from '../../src/instagram-graph/instagram-graph.types';
import { MetaApiError } from '../../src/instagram-graph/meta-error';

const CLIENT_ID = '1234567890123456';
const CLIENT_SECRET = 'sim-app-secret-for-igdm-tests';
const REDIRECT_URI = 'https://app.example.com/accounts/instagram/callback';
const TIMEOUT_MS = 400;
const DAY_MS = 24 * 3_600_000;

/** Retries and waits in milliseconds so the suite stays fast; the shapes are the production ones. */
const FAST: GraphTuning = {
  maxAttempts: 3,
  retryBaseMs: 40,
  retryMaxMs: 200,
  usageThreshold: 80,
  throttleBaseMs: 300,
  throttleMaxMs: 1_000,
  maxWaitMs: 1_500,
  usageTtlMs: 60_000,
  rateLimitBaseMs: 50,
  rateLimitMaxMs: 200,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Harness {
  moduleRef: TestingModule;
  graph: InstagramGraphService;
  events: EventEmitter2;
}

async function harness(
  sim: MetaSimulator,
  opts: { graphUrl?: string; tuning?: Partial<GraphTuning>; logs?: string[] } = {},
): Promise<Harness> {
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      opts.logs?.push(chunk.toString('utf8'));
      done();
    },
  });
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot({
        isGlobal: true,
        ignoreEnvFile: true,
        load: [
          () => ({
            INSTAGRAM_GRAPH_URL: opts.graphUrl ?? sim.graphUrl,
            INSTAGRAM_API_URL: sim.apiUrl,
            INSTAGRAM_WWW_URL: sim.wwwUrl,
            INSTAGRAM_API_VERSION: 'v24.0',
            GRAPH_TIMEOUT_MS: TIMEOUT_MS,
            INSTAGRAM_CLIENT_ID: CLIENT_ID,
            INSTAGRAM_CLIENT_SECRET: CLIENT_SECRET,
          }),
        ],
      }),
      LoggerModule.forRoot(
        opts.logs
          ? { pinoHttp: [{ level: 'debug' }, logStream] }
          : { pinoHttp: { level: 'silent' } },
      ),
      EventEmitterModule.forRoot(),
      InstagramGraphModule,
    ],
  })
    .overrideProvider(GRAPH_TUNING)
    .useValue({ ...FAST, ...opts.tuning })
    .compile();
  return {
    moduleRef,
    graph: moduleRef.get(InstagramGraphService),
    events: moduleRef.get(EventEmitter2),
  };
}

/** Rejection of `promise` as a MetaApiError (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<MetaApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MetaApiError);
    return error as MetaApiError;
  }
  throw new Error('expected the call to fail');
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A plain TCP forwarder to the simulator that can start listening late (connection refused until then). */
function forwarder(targetPort: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    listen: (port: number) =>
      new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server.listening) return resolve();
        server.close(() => resolve());
      }),
  };
}

describe('InstagramGraphService against the Meta simulator', () => {
  let sim: MetaSimulator;
  let h: Harness;
  let graph: InstagramGraphService;

  beforeAll(async () => {
    sim = await startMetaSimulator({
      clientId: CLIENT_ID,
      appSecret: CLIENT_SECRET,
      // The Conversations API's 2 calls/s would throttle this suite; its own test re-enables it.
      limits: { conversationsPerSecond: 0 },
    });
    h = await harness(sim);
    graph = h.graph;
  });

  afterAll(async () => {
    await h?.moduleRef.close();
    await sim?.close();
  });

  afterEach(() => {
    sim.clearFaults();
  });

  /** A fresh business (its own usage state) with one customer who already wrote. */
  async function given(): Promise<{
    biz: Business;
    acct: GraphAccount;
    customer: Customer;
    inboundMid: string;
  }> {
    const biz = sim.createBusiness({
      username: `shop_${Math.random().toString(36).slice(2, 8)}`,
      name: 'Shop',
    });
    const customer = sim.customer(biz, { name: 'Ada Lovelace', username: 'ada' });
    const { mid } = await customer.sends('Hello, is this available?');
    return {
      biz,
      acct: { igId: biz.igId, accessToken: biz.accessToken },
      customer,
      inboundMid: mid!,
    };
  }

  const sendRequests = (biz: Business) => sim.requests({ endpoint: 'send', accountIgId: biz.igId });

  describe('profiles', () => {
    it('should read the profile of a customer who wrote', async () => {
      const { acct, customer } = await given();
      const profile = await graph.getUserProfile(acct, customer.igsid);
      expect(profile).toEqual({
        id: customer.igsid,
        name: 'Ada Lovelace',
        username: 'ada',
        profile_pic: expect.any(String),
        follower_count: expect.any(Number),
        is_user_follow_business: expect.any(Boolean),
        is_business_follow_user: expect.any(Boolean),
        is_verified_user: expect.any(Boolean),
      });
      const [request] = sim.requests({ endpoint: 'profile', accountIgId: acct.igId });
      expect(request.path).toBe(`/graph/v24.0/${customer.igsid}`);
      expect(request.query.fields).toBe(
        'name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user,is_verified_user',
      );
      expect(request.headers.authorization).toBe(`Bearer ${acct.accessToken}`);
      expect(request.query.access_token).toBeUndefined();
    });

    it('should return null without consent (230) instead of failing', async () => {
      const { biz, acct } = await given();
      const commenter = sim.customer(biz, { username: 'only_comments' });
      await commenter.comments(undefined, 'price?');
      await expect(graph.getUserProfile(acct, commenter.igsid)).resolves.toBeNull();
    });

    it('should return null for the review bot (9010) instead of failing', async () => {
      const { acct, customer } = await given();
      sim.fault({
        endpoint: 'profile',
        accountIgId: acct.igId,
        metaError: { code: 9010, type: 'IGApiException' },
      });
      await expect(graph.getUserProfile(acct, customer.igsid)).resolves.toBeNull();
    });
  });

  describe('Send API', () => {
    it('should send a text as a RESPONSE and return the mid of the echo', async () => {
      const { biz, acct, customer } = await given();
      const result = await graph.sendText(acct, customer.igsid, 'Yes, we have it in stock');
      expect(result.recipient_id).toBe(customer.igsid);
      const [sent] = sim.sent(biz);
      expect(sent).toMatchObject({
        mid: result.message_id,
        text: 'Yes, we have it in stock',
        recipientId: customer.igsid,
      });
      const [request] = sendRequests(biz);
      expect(request.path).toBe(`/graph/v24.0/${biz.igId}/messages`);
      expect(request.body).toEqual({
        recipient: { id: customer.igsid },
        message: { text: 'Yes, we have it in stock' },
        messaging_type: 'RESPONSE',
      });
    });

    it('should quote an earlier message with replyToMid', async () => {
      const { biz, acct, customer, inboundMid } = await given();
      await graph.sendText(acct, customer.igsid, 'About that:', { replyToMid: inboundMid });
      expect(sim.sent(biz)[0].replyToMid).toBe(inboundMid);
    });

    it('should send with the HUMAN_AGENT tag after 24 hours', async () => {
      const { biz, acct, customer } = await given();
      sim.advanceClock(2 * DAY_MS);
      const closed = await failure(graph.sendText(acct, customer.igsid, 'Sorry for the delay'));
      expect(closed).toMatchObject({
        status: 422,
        code: 'WINDOW_CLOSED',
        metaCode: 10,
        metaSubcode: 2534022,
      });

      await graph.sendText(acct, customer.igsid, 'Sorry for the delay', { tag: 'HUMAN_AGENT' });
      const requests = sendRequests(biz);
      expect(requests[requests.length - 1].body).toMatchObject({
        messaging_type: 'MESSAGE_TAG',
        tag: 'HUMAN_AGENT',
      });
      expect(sim.sent(biz)[0].tag).toBe('HUMAN_AGENT');
    });

    it('should send an attachment by URL', async () => {
      const { biz, acct, customer } = await given();
      const result = await graph.sendAttachment(acct, customer.igsid, {
        type: 'image',
        url: 'https://cdn.example.com/catalog/shoe.jpg',
      });
      expect(result.message_id).toBe(sim.sent(biz)[0].mid);
      expect(sim.sent(biz)[0].attachments[0]).toMatchObject({
        type: 'image',
        sourceUrl: 'https://cdn.example.com/catalog/shoe.jpg',
      });
    });

    it('should send the heart sticker', async () => {
      const { biz, acct, customer } = await given();
      await graph.sendLikeHeart(acct, customer.igsid);
      expect(sim.sent(biz)[0].attachments[0].type).toBe('like_heart');
    });

    it('should send one private reply to a comment and refuse a second', async () => {
      const { biz, acct } = await given();
      const commenter = sim.customer(biz, { username: 'commenter' });
      const { commentId } = await commenter.comments(undefined, 'How much?');
      const result = await graph.sendPrivateReply(acct, commentId, 'Sent you the price in DM');
      expect(result.recipient_id).toBe(commenter.igsid);
      expect(sim.sent(biz)[0]).toMatchObject({ via: 'private_reply', commentId });
      expect(sendRequests(biz)[0].body).toMatchObject({ recipient: { comment_id: commentId } });

      const again = await failure(graph.sendPrivateReply(acct, commentId, 'And again'));
      expect(again).toMatchObject({ status: 409, code: 'PRIVATE_REPLY_USED' });
    });

    it('should refuse a text longer than 1000 bytes without calling Meta', async () => {
      const { biz, acct, customer } = await given();
      const tooLong = { status: 400, code: 'TEXT_TOO_LONG' };
      await expect(graph.sendText(acct, customer.igsid, 'é'.repeat(501))).rejects.toMatchObject(
        tooLong,
      );
      await expect(
        graph.sendPrivateReply(acct, 'any-comment', 'é'.repeat(501)),
      ).rejects.toMatchObject(tooLong);
      expect(sendRequests(biz)).toHaveLength(0);
    });

    it('should answer 404 RECIPIENT_NOT_FOUND for an id that is not an IGSID of the account', async () => {
      const { acct } = await given();
      const error = await failure(graph.sendText(acct, '999999999999999', 'hi'));
      expect(error).toMatchObject({
        status: 404,
        code: 'RECIPIENT_NOT_FOUND',
        metaCode: 100,
        metaSubcode: 2534014,
      });
    });
  });

  describe('sender actions and reactions', () => {
    it('should send typing and seen indicators', async () => {
      const { biz, acct, customer } = await given();
      await graph.senderAction(acct, customer.igsid, 'typing_on');
      await graph.senderAction(acct, customer.igsid, 'mark_seen');
      expect(sendRequests(biz).map((r) => r.body)).toEqual([
        { recipient: { id: customer.igsid }, sender_action: 'typing_on' },
        { recipient: { id: customer.igsid }, sender_action: 'mark_seen' },
      ]);
      expect(sim.sent(biz)).toHaveLength(0);
    });

    it('should react to a message and take the reaction back', async () => {
      const { acct, customer, inboundMid } = await given();
      await graph.react(acct, customer.igsid, inboundMid, 'love');
      expect(sim.state.messages.get(inboundMid)?.reactions.business).toBe('love');
      await graph.unreact(acct, customer.igsid, inboundMid);
      expect(sim.state.messages.get(inboundMid)?.reactions.business).toBeUndefined();
    });

    it('should retry a sender action after a dropped connection (it is idempotent)', async () => {
      const { biz, acct, customer } = await given();
      sim.fault({ endpoint: 'send', accountIgId: biz.igId, dropConnection: true, times: 1 });
      await graph.senderAction(acct, customer.igsid, 'typing_on');
      expect(sendRequests(biz)).toHaveLength(2);
    });
  });

  describe('webhook subscription', () => {
    it('should subscribe, read back and unsubscribe', async () => {
      const biz = sim.createBusiness({ subscribedFields: [] });
      const acct = { igId: biz.igId, accessToken: biz.accessToken };
      await expect(graph.getSubscribedApps(acct)).resolves.toEqual([]);

      await expect(
        graph.subscribeApp(acct, ['messages', 'message_reactions', 'messaging_seen']),
      ).resolves.toBe(true);
      const [request] = sim.requests({
        endpoint: 'subscribed_apps',
        method: 'POST',
        accountIgId: biz.igId,
      });
      expect(request.query.subscribed_fields).toBe('messages,message_reactions,messaging_seen');
      await expect(graph.getSubscribedApps(acct)).resolves.toEqual([
        { id: CLIENT_ID, subscribed_fields: ['messages', 'message_reactions', 'messaging_seen'] },
      ]);

      await expect(graph.unsubscribeApp(acct)).resolves.toBe(true);
      await expect(graph.getSubscribedApps(acct)).resolves.toEqual([]);
    });

    it('should surface an invalid field as 400', async () => {
      const biz = sim.createBusiness({ subscribedFields: [] });
      const error = await failure(
        graph.subscribeApp({ igId: biz.igId, accessToken: biz.accessToken }, ['nope']),
      );
      expect(error).toMatchObject({ status: 400, code: 'META_INVALID_PARAMETER', metaCode: 100 });
    });
  });

  describe('OAuth (Business Login for Instagram)', () => {
    async function authorize(
      biz: Business,
      scopes = ['instagram_business_basic', 'instagram_business_manage_messages'],
    ) {
      sim.nextAuthorization({ business: biz });
      const url = graph.authorizeUrl({ redirectUri: REDIRECT_URI, scopes, state: 'csrf-123' });
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location') ?? '');
      expect(location.searchParams.get('state')).toBe('csrf-123');
      return location.searchParams.get('code') ?? '';
    }

    it('should build the authorize URL from configuration', () => {
      const url = new URL(
        graph.authorizeUrl({
          redirectUri: REDIRECT_URI,
          scopes: ['instagram_business_basic', 'x'],
          state: 's',
        }),
      );
      expect(`${url.origin}${url.pathname}`).toBe(`${sim.wwwUrl}/oauth/authorize`);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'instagram_business_basic,x',
        state: 's',
      });
    });

    it('should exchange the code and keep every digit of a user_id above 2^53', async () => {
      const biz = sim.createBusiness();
      expect(BigInt(biz.igId) > 2n ** 53n).toBe(true);
      const code = await authorize(biz);

      const short = await graph.exchangeCode(code, REDIRECT_URI);
      expect(short.user_id).toBe(biz.igId);
      expect(short.permissions).toEqual([
        'instagram_business_basic',
        'instagram_business_manage_messages',
      ]);
      // The exchange really answered with an unquoted number that JSON.parse would round.
      const request = sim.requests({ endpoint: 'token', host: 'api' }).at(-1)!;
      expect(request.headers['content-type']).toMatch(/application\/x-www-form-urlencoded/);
      expect(request.responseText).toContain(`"user_id":${biz.igId}`);
      expect(
        String((JSON.parse(request.responseText ?? '{}') as { user_id: number }).user_id),
      ).not.toBe(biz.igId);
    });

    it('should exchange for a long-lived token, identify the account and refresh it', async () => {
      const biz = sim.createBusiness();
      const short = await graph.exchangeCode(await authorize(biz), REDIRECT_URI);

      const long = await graph.exchangeLongLived(short.access_token);
      expect(long).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 5_184_000,
      });
      const exchange = sim.requests({ endpoint: 'token', host: 'graph' }).at(-1)!;
      expect(exchange.path).toBe('/graph/access_token');
      expect(exchange.query).toEqual({
        grant_type: 'ig_exchange_token',
        client_secret: CLIENT_SECRET,
      });

      const me = await graph.getMe(long.access_token);
      expect(me).toEqual({
        user_id: biz.igId,
        app_scoped_id: biz.appScopedId,
        username: biz.username,
        name: biz.name,
        account_type: 'BUSINESS',
        profile_picture_url: biz.profilePictureUrl,
      });
      expect(me.app_scoped_id).not.toBe(me.user_id);

      sim.setTokenTimes(long.access_token, { createdAt: sim.now() - 2 * DAY_MS });
      const refreshed = await graph.refreshToken(long.access_token);
      expect(refreshed.access_token).not.toBe(long.access_token);
      expect(refreshed.expires_in).toBe(5_184_000);
    });

    it('should answer 400 OAUTH_CODE_INVALID for a used code', async () => {
      const biz = sim.createBusiness();
      const code = await authorize(biz);
      await graph.exchangeCode(code, REDIRECT_URI);
      const error = await failure(graph.exchangeCode(code, REDIRECT_URI));
      expect(error).toMatchObject({
        status: 400,
        code: 'OAUTH_CODE_INVALID',
        reauthRequired: false,
      });
    });

    it('should answer 400 OAUTH_CODE_INVALID for a redirect_uri mismatch', async () => {
      const code = await authorize(sim.createBusiness());
      const error = await failure(graph.exchangeCode(code, `${REDIRECT_URI}/other`));
      expect(error).toMatchObject({ status: 400, code: 'OAUTH_CODE_INVALID' });
    });

    it('should refuse to refresh a token younger than 24 hours with ACCOUNT_REAUTH_REQUIRED', async () => {
      const short = await graph.exchangeCode(await authorize(sim.createBusiness()), REDIRECT_URI);
      const long = await graph.exchangeLongLived(short.access_token);
      const error = await failure(graph.refreshToken(long.access_token));
      expect(error).toMatchObject({ status: 409, code: 'ACCOUNT_REAUTH_REQUIRED', metaCode: 190 });
    });
  });

  describe('Conversations API', () => {
    it('should list conversations page by page and filter by customer', async () => {
      const { biz, acct, customer } = await given();
      const other = sim.customer(biz, { username: 'grace' });
      await other.sends('Hi there');

      const first = await graph.listConversations(acct, { limit: 1 });
      expect(first.data).toHaveLength(1);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await graph.listConversations(acct, { limit: 1, after: first.nextCursor! });
      expect(second.data).toHaveLength(1);
      expect(second.nextCursor).toBeNull();
      expect(new Set([first.data[0].id, second.data[0].id]).size).toBe(2);

      const only = await graph.listConversations(acct, { userId: customer.igsid });
      expect(only.data).toEqual([
        { id: expect.any(String), updated_time: expect.stringMatching(/\+0000$/) },
      ]);
      const [request] = sim.requests({ endpoint: 'conversations', accountIgId: biz.igId });
      expect(request.path).toBe('/graph/v24.0/me/conversations');
      expect(request.query.platform).toBe('instagram');
    });

    it('should read the messages of a conversation, newest first, across pages', async () => {
      const { acct, customer, inboundMid } = await given();
      await customer.sends('Second message');
      const reply = await graph.sendText(acct, customer.igsid, 'Our answer');
      const [conversation] = (await graph.listConversations(acct, { userId: customer.igsid })).data;

      const page1 = await graph.getConversationMessages(acct, conversation.id, { limit: 2 });
      expect(page1.data.map((m) => m.message)).toEqual(['Our answer', 'Second message']);
      expect(page1.data[0]).toMatchObject({
        id: reply.message_id,
        from: { id: acct.igId },
        to: { data: [{ id: customer.igsid }] },
        created_time: expect.stringMatching(/\+0000$/),
      });
      expect(page1.nextCursor).toEqual(expect.any(String));

      const page2 = await graph.getConversationMessages(acct, conversation.id, {
        limit: 2,
        after: page1.nextCursor!,
      });
      expect(page2.data.map((m) => m.id)).toEqual([inboundMid]);
      expect(page2.nextCursor).toBeNull();
    });

    it('should read one message, with a fresh URL for its attachment', async () => {
      const { acct, customer, inboundMid } = await given();
      const text = await graph.getMessage(acct, inboundMid);
      expect(text).toMatchObject({
        id: inboundMid,
        message: 'Hello, is this available?',
        from: { id: customer.igsid, username: 'ada' },
      });

      const { mid: imageMid } = await customer.sendsImage();
      const image = await graph.getMessage(acct, imageMid!);
      expect(image.attachments?.data[0].image_data?.url).toEqual(expect.stringMatching(/^http/));
    });

    it('should wait out the 2 calls/s Conversations limit instead of failing', async () => {
      const limited = await startMetaSimulator({ clientId: CLIENT_ID, appSecret: CLIENT_SECRET });
      const local = await harness(limited, {
        tuning: { rateLimitBaseMs: 1_000, rateLimitMaxMs: 2_000, maxWaitMs: 3_000 },
      });
      try {
        const biz = limited.createBusiness();
        await limited.customer(biz).sends('hi');
        const acct = { igId: biz.igId, accessToken: biz.accessToken };
        const pages = await Promise.all([1, 2, 3].map(() => local.graph.listConversations(acct)));
        expect(pages.every((p) => p.data.length === 1)).toBe(true);
        const statuses = limited.requests({ endpoint: 'conversations' }).map((r) => r.status);
        expect(statuses).toContain(400);
      } finally {
        await local.moduleRef.close();
        await limited.close();
      }
    });
  });

  describe('Meta errors through the simulator', () => {
    const rows: [number, number | undefined, number, string][] = [
      [10, 2534022, 422, 'WINDOW_CLOSED'],
      [10, 2018278, 422, 'WINDOW_CLOSED'],
      [10, 2018108, 422, 'RECIPIENT_UNAVAILABLE'],
      [551, 1545041, 422, 'RECIPIENT_UNAVAILABLE'],
      [200, 1545041, 422, 'RECIPIENT_UNAVAILABLE'],
      [100, 2018001, 404, 'RECIPIENT_NOT_FOUND'],
      [100, 2018008, 422, 'ATTACHMENT_UNREACHABLE'],
      [100, 2018109, 413, 'ATTACHMENT_TOO_LARGE'],
      [100, undefined, 400, 'META_INVALID_PARAMETER'],
      [10, 1893063, 403, 'ACCOUNT_RESTRICTED'],
      [368, undefined, 403, 'ACCOUNT_RESTRICTED'],
      [200, undefined, 403, 'META_PERMISSION_DENIED'],
      [2018300, undefined, 409, 'THREAD_CONTROLLED_BY_OTHER_APP'],
      [9000001, undefined, 410, 'MESSAGE_DELETED'],
      [2500, undefined, 500, 'META_BAD_PATH'],
      [424242, undefined, 502, 'META_ERROR'],
    ];

    it.each(rows)(
      'should map a send failing with %p/%p to %p %p, without retrying',
      async (code, subcode, status, errorCode) => {
        const { biz, acct, customer } = await given();
        sim.fault({ endpoint: 'send', accountIgId: biz.igId, metaError: { code, subcode } });
        const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
        expect(error).toMatchObject({
          status,
          code: errorCode,
          metaCode: code,
          metaSubcode: subcode ?? null,
          outcome: 'failed',
        });
        expect(error.fbtraceId).toEqual(expect.any(String));
        expect(sendRequests(biz)).toHaveLength(1);
      },
    );

    it('should report 1/1357046 on a send as outcome unknown, without resending', async () => {
      const { biz, acct, customer } = await given();
      sim.fault({
        endpoint: 'send',
        accountIgId: biz.igId,
        metaError: { code: 1, subcode: 1357046 },
      });
      const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
      expect(error).toMatchObject({
        status: 502,
        code: 'SEND_OUTCOME_UNKNOWN',
        outcome: 'unknown',
        retry: 'careful',
      });
      expect(error.message).toMatch(/may have been delivered/);
      expect(sendRequests(biz)).toHaveLength(1);
    });

    it('should retry a send after transient code 2 (nothing was sent)', async () => {
      const { biz, acct, customer } = await given();
      sim.fault({ endpoint: 'send', accountIgId: biz.igId, metaError: { code: 2 }, times: 1 });
      await graph.sendText(acct, customer.igsid, 'hello');
      expect(sendRequests(biz)).toHaveLength(2);
      expect(sim.sent(biz)).toHaveLength(1);
    });

    it('should retry a send after a rate-limit error and send it once', async () => {
      const { biz, acct, customer } = await given();
      sim.fault({
        endpoint: 'send',
        accountIgId: biz.igId,
        metaError: { code: 613, subcode: 2534040 },
        times: 1,
      });
      await graph.sendText(acct, customer.igsid, 'hello');
      expect(sendRequests(biz)).toHaveLength(2);
      expect(sim.sent(biz)).toHaveLength(1);
    });

    it('should answer 429 META_RATE_LIMITED with Retry-After when the limit persists', async () => {
      const { biz, acct, customer } = await given();
      sim.fault({ endpoint: 'send', accountIgId: biz.igId, metaError: { code: 4 } });
      const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
      expect(error).toMatchObject({
        status: 429,
        code: 'META_RATE_LIMITED',
        metaCode: 4,
        retryable: true,
      });
      expect(Number(error.options.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
      expect(sendRequests(biz)).toHaveLength(3);
    });
  });

  describe('invalid tokens', () => {
    it('should answer ACCOUNT_REAUTH_REQUIRED (409, never 401) and emit instagram.token_invalid', async () => {
      const { biz, acct, customer } = await given();
      const seen: InstagramTokenInvalidEvent[] = [];
      const listener = (e: InstagramTokenInvalidEvent) => seen.push(e);
      h.events.on(INSTAGRAM_TOKEN_INVALID, listener);
      try {
        sim.invalidateToken(biz, 460);
        const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
        expect(error).toMatchObject({
          status: 409,
          code: 'ACCOUNT_REAUTH_REQUIRED',
          metaCode: 190,
          metaSubcode: 460,
          reauthRequired: true,
          outcome: 'failed',
        });
        expect(seen).toEqual([
          {
            igId: biz.igId,
            code: 190,
            subcode: 460,
            reason: 'password changed or session invalidated',
          },
        ]);
        expect(sendRequests(biz)).toHaveLength(1);
      } finally {
        h.events.off(INSTAGRAM_TOKEN_INVALID, listener);
      }
    });

    it('should emit the event for an unknown token (plain 190) on a read', async () => {
      const { biz, customer } = await given();
      const seen: InstagramTokenInvalidEvent[] = [];
      const listener = (e: InstagramTokenInvalidEvent) => seen.push(e);
      h.events.on(INSTAGRAM_TOKEN_INVALID, listener);
      try {
        const error = await failure(
          graph.getUserProfile({ igId: biz.igId, accessToken: 'IGAA-revoked' }, customer.igsid),
        );
        expect(error).toMatchObject({
          status: 409,
          code: 'ACCOUNT_REAUTH_REQUIRED',
          reauthRequired: true,
        });
        expect(seen).toEqual([
          { igId: biz.igId, code: 190, subcode: null, reason: expect.any(String) },
        ]);
      } finally {
        h.events.off(INSTAGRAM_TOKEN_INVALID, listener);
      }
    });

    it('should flag messaging disabled by the owner (200/2534041) for reauth', async () => {
      const { biz, acct, customer } = await given();
      const seen: InstagramTokenInvalidEvent[] = [];
      const listener = (e: InstagramTokenInvalidEvent) => seen.push(e);
      h.events.on(INSTAGRAM_TOKEN_INVALID, listener);
      try {
        sim.fault({
          endpoint: 'send',
          accountIgId: biz.igId,
          metaError: { code: 200, subcode: 2534041 },
        });
        const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
        expect(error).toMatchObject({
          status: 409,
          code: 'ACCOUNT_MESSAGING_DISABLED',
          reauthRequired: true,
        });
        expect(seen).toHaveLength(1);
      } finally {
        h.events.off(INSTAGRAM_TOKEN_INVALID, listener);
      }
    });
  });

  describe('timeouts, dropped connections and 5xx', () => {
    it('should never resend a send that timed out: one request, SEND_OUTCOME_UNKNOWN', async () => {
      const { biz, acct, customer } = await given();
      sim.fault({ endpoint: 'send', accountIgId: biz.igId, timeout: true, hangMs: 2_000 });
      const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
      expect(error).toMatchObject({
        status: 504,
        code: 'SEND_OUTCOME_UNKNOWN',
        outcome: 'unknown',
      });
      expect(error.message).toMatch(/may have been delivered/);
      expect(error.message).toMatch(/echo webhook/);
      await sleep(FAST.retryMaxMs * 2);
      expect(sendRequests(biz)).toHaveLength(1);
    });

    it('should never resend a send whose connection dropped: one request, SEND_OUTCOME_UNKNOWN', async () => {
      const { biz, acct, customer } = await given();
      sim.fault({ endpoint: 'send', accountIgId: biz.igId, dropConnection: true });
      const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
      expect(error).toMatchObject({
        status: 502,
        code: 'SEND_OUTCOME_UNKNOWN',
        outcome: 'unknown',
      });
      await sleep(FAST.retryMaxMs * 2);
      expect(sendRequests(biz)).toHaveLength(1);
    });

    it('should retry a read that timed out', async () => {
      const { acct, customer } = await given();
      sim.fault({
        endpoint: 'profile',
        accountIgId: acct.igId,
        timeout: true,
        hangMs: 2_000,
        times: 1,
      });
      await expect(graph.getUserProfile(acct, customer.igsid)).resolves.toMatchObject({
        id: customer.igsid,
      });
      expect(sim.requests({ endpoint: 'profile', accountIgId: acct.igId })).toHaveLength(2);
    });

    it('should answer 504 META_TIMEOUT when every attempt of a read times out', async () => {
      const { acct, inboundMid } = await given();
      sim.fault({ endpoint: 'message', accountIgId: acct.igId, timeout: true, hangMs: 2_000 });
      const error = await failure(graph.getMessage(acct, inboundMid));
      expect(error).toMatchObject({ status: 504, code: 'META_TIMEOUT', outcome: 'failed' });
      expect(sim.requests({ endpoint: 'message', accountIgId: acct.igId })).toHaveLength(
        FAST.maxAttempts,
      );
    });

    it('should retry a read after a 5xx', async () => {
      const { acct, customer } = await given();
      sim.fault({ endpoint: 'profile', accountIgId: acct.igId, status5xx: 503, times: 1 });
      await expect(graph.getUserProfile(acct, customer.igsid)).resolves.toMatchObject({
        username: 'ada',
      });
      expect(
        sim.requests({ endpoint: 'profile', accountIgId: acct.igId }).map((r) => r.status),
      ).toEqual([503, 200]);
    });

    it('should answer 503 META_UNAVAILABLE when Meta stays down', async () => {
      const { acct, customer } = await given();
      sim.fault({ endpoint: 'profile', accountIgId: acct.igId, status5xx: 503 });
      const error = await failure(graph.getUserProfile(acct, customer.igsid));
      expect(error).toMatchObject({ status: 503, code: 'META_UNAVAILABLE', metaCode: 2 });
      expect(sim.requests({ endpoint: 'profile', accountIgId: acct.igId })).toHaveLength(
        FAST.maxAttempts,
      );
    });
  });

  describe('connection refused', () => {
    it('should retry a read after ECONNREFUSED', async () => {
      const port = await freePort();
      const proxy = forwarder(sim.port);
      const local = await harness(sim, {
        graphUrl: `http://127.0.0.1:${port}/graph`,
        tuning: { retryBaseMs: 300 },
      });
      try {
        const { acct, customer } = await given();
        const call = local.graph.getUserProfile(acct, customer.igsid);
        // The first attempt is refused; the proxy is up before the retry (≥ 150 ms later).
        setTimeout(() => void proxy.listen(port), 30);
        await expect(call).resolves.toMatchObject({ id: customer.igsid });
        expect(sim.requests({ endpoint: 'profile', accountIgId: acct.igId })).toHaveLength(1);
      } finally {
        await proxy.close();
        await local.moduleRef.close();
      }
    });

    it('should retry a refused send (it never left) and report it failed, not unknown', async () => {
      const port = await freePort();
      const local = await harness(sim, { graphUrl: `http://127.0.0.1:${port}/graph` });
      try {
        const { biz, acct, customer } = await given();
        const started = Date.now();
        const error = await failure(local.graph.sendText(acct, customer.igsid, 'hello'));
        expect(error).toMatchObject({ status: 502, code: 'META_UNAVAILABLE', outcome: 'failed' });
        // Two backoffs happened between the three attempts.
        expect(Date.now() - started).toBeGreaterThanOrEqual(
          FAST.retryBaseMs / 2 + FAST.retryBaseMs,
        );
        expect(sim.sent(biz)).toHaveLength(0);
      } finally {
        await local.moduleRef.close();
      }
    });
  });

  describe('usage headers and per-account throttling', () => {
    it('should slow down calls of an account whose usage passed the threshold, not of others', async () => {
      const { biz, acct, customer } = await given();
      const calm = await given();
      sim.setRateLimit(biz, { callsPerWindow: 10, windowMs: 60_000 });
      for (let i = 0; i < 8; i++) await graph.senderAction(acct, customer.igsid, 'typing_on');

      const usage = graph.usageFor(acct.igId);
      expect(usage?.maxPercent).toBe(80);
      expect(usage?.businessUseCase[0]).toMatchObject({
        businessId: biz.igId,
        type: 'instagram',
        call_count: 80,
      });
      expect(graph.lastSuccessAt(acct.igId)).toBeInstanceOf(Date);

      let started = Date.now();
      await graph.senderAction(acct, customer.igsid, 'typing_off');
      const throttled = Date.now() - started;
      started = Date.now();
      await graph.senderAction(calm.acct, calm.customer.igsid, 'typing_off');
      const free = Date.now() - started;

      expect(throttled).toBeGreaterThanOrEqual(FAST.throttleBaseMs / 2);
      expect(free).toBeLessThan(FAST.throttleBaseMs / 2);
    });

    it('should fail fast with 429 and Retry-After, without calling Meta, once usage hits 100 %', async () => {
      const { biz, acct, customer } = await given();
      sim.setRateLimit(biz, { callsPerWindow: 3, windowMs: 10 * 60_000 });
      for (let i = 0; i < 3; i++) await graph.senderAction(acct, customer.igsid, 'typing_on');
      // The third reply said 100 % with a regain time of 10 minutes: far beyond the longest wait.
      expect(graph.usageFor(acct.igId)?.blockedUntil).toBeInstanceOf(Date);

      const started = Date.now();
      const error = await failure(graph.sendText(acct, customer.igsid, 'hello'));
      expect(Date.now() - started).toBeLessThan(FAST.maxWaitMs);
      expect(error).toMatchObject({ status: 429, code: 'META_RATE_LIMITED', retryable: true });
      const retryAfter = Number(error.options.headers?.['Retry-After']);
      expect(retryAfter).toBeGreaterThan(9 * 60);
      expect(retryAfter).toBeLessThanOrEqual(10 * 60);
      expect(sendRequests(biz)).toHaveLength(3);
    });

    it('should stop after Meta refuses a call with a rate-limit error and a regain time', async () => {
      const { biz, acct, customer } = await given();
      const other = await given();
      sim.setRateLimit(biz, { callsPerWindow: 1, windowMs: 5 * 60_000 });
      // Another igdm instance spends the budget: this one has not seen the usage yet.
      const instance2 = await harness(sim);
      try {
        await instance2.graph.getUserProfile(acct, customer.igsid);
      } finally {
        await instance2.moduleRef.close();
      }

      const error = await failure(graph.getUserProfile(acct, customer.igsid));
      expect(error).toMatchObject({
        status: 429,
        code: 'META_RATE_LIMITED',
        metaCode: 613,
        metaSubcode: 2534040,
      });
      expect(Number(error.options.headers?.['Retry-After'])).toBeGreaterThan(4 * 60);
      // Meta's regain time (5 minutes) is beyond the longest wait: no second attempt was made.
      expect(sim.requests({ endpoint: 'profile', accountIgId: biz.igId })).toHaveLength(2);
      // Other accounts are not held back.
      await expect(graph.getUserProfile(other.acct, other.customer.igsid)).resolves.not.toBeNull();
    });
  });

  describe('logging', () => {
    it('should log method, path template and status without tokens, secrets or message text', async () => {
      const logs: string[] = [];
      // nestjs-pino keeps the first module's (silent) logger process-wide; start from a clean one.
      __resetOutOfContextForTests();
      const local = await harness(sim, { logs });
      try {
        const { biz, acct, customer } = await given();
        await local.graph.sendText(acct, customer.igsid, 'secret-ish customer text');
        sim.fault({
          endpoint: 'send',
          accountIgId: biz.igId,
          metaError: { code: 10, subcode: 2534022 },
        });
        await failure(local.graph.sendText(acct, customer.igsid, 'another private text'));
        await local.graph.exchangeLongLived(acct.accessToken).catch(() => undefined);

        const all = logs.join('');
        expect(all).toContain('"path":"POST /{igId}/messages"');
        expect(all).toContain(`"igId":"${biz.igId}"`);
        expect(all).toContain('"fbtraceId"');
        expect(all).not.toContain(acct.accessToken);
        expect(all).not.toContain(CLIENT_SECRET);
        expect(all).not.toContain('customer text');
        expect(all).not.toContain('private text');
      } finally {
        await local.moduleRef.close();
        __resetOutOfContextForTests();
      }
    });
  });
});
