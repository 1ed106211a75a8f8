import { startMetaSimulator, type Business, type MetaSimulator } from '../../meta-simulator';
import { call } from './helpers';

describe('Meta simulator fault injection', () => {
  let meta: MetaSimulator;
  let biz: Business;

  beforeEach(async () => {
    meta = await startMetaSimulator();
    biz = meta.createBusiness();
  });

  afterEach(() => meta.close());

  const me = (signal?: AbortSignal, token = biz.accessToken) =>
    call(meta, 'GET', '/v24.0/me', { token, signal });

  it('should hang on a timeout fault until the client gives up', async () => {
    meta.fault({ endpoint: 'me', timeout: true, hangMs: 5000, times: 1 });
    await expect(me(AbortSignal.timeout(200))).rejects.toThrow();
    const [hung] = meta.requests({ endpoint: 'me' });
    expect(hung.fault).toBe('timeout');
    expect(hung.status).toBeUndefined();
    expect((await me()).status).toBe(200);
  });

  it('should answer 5xx with a transient Meta error for the given number of times', async () => {
    const fault = meta.fault({ endpoint: '*', status5xx: 503, times: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await me();
      expect(r.status).toBe(503);
      expect(r.json.error).toMatchObject({
        code: 2,
        is_transient: true,
        fbtrace_id: expect.any(String),
      });
    }
    expect(fault.hits).toBe(2);
    expect((await me()).status).toBe(200);
  });

  it('should answer a given Meta error until cleared', async () => {
    meta.fault({
      endpoint: 'send',
      metaError: { code: 1, subcode: 1357046, message: 'Invalid JSON reply' },
    });
    const send = () =>
      call(meta, 'POST', '/v24.0/me/messages', {
        token: biz.accessToken,
        json: { recipient: { id: '1' }, message: { text: 'x' } },
      });
    for (let i = 0; i < 2; i++) {
      const r = await send();
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({
        message: 'Invalid JSON reply',
        type: 'OAuthException',
        code: 1,
        error_subcode: 1357046,
      });
    }
    meta.clearFaults();
    expect((await send()).json.error.error_subcode).toBe(2534014);
  });

  it('should drop the connection without an answer', async () => {
    meta.fault({ endpoint: 'me', dropConnection: true, times: 1 });
    await expect(me()).rejects.toThrow();
    expect((await me()).status).toBe(200);
  });

  it('should add latency and target one account only', async () => {
    const other = meta.createBusiness();
    meta.fault({ endpoint: 'me', latencyMs: 150, accountIgId: biz.igId });
    const t0 = performance.now();
    expect((await me()).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    const t1 = performance.now();
    await me(undefined, other.accessToken);
    expect(performance.now() - t1).toBeLessThan(140);
  });

  it('should use the flat OAuth envelope for faults on the code exchange', async () => {
    meta.fault({
      endpoint: 'token',
      metaError: { code: 400, message: 'Invalid platform app' },
      times: 1,
    });
    const r = await call(meta, 'POST', `${meta.apiUrl}/oauth/access_token`, {
      form: { code: 'x' },
    });
    expect(r.json).toEqual({
      error_type: 'OAuthException',
      code: 400,
      error_message: 'Invalid platform app',
    });
  });
});
