import {
  AttemptFailure,
  backoffDelay,
  CallKind,
  errorForFailure,
  shouldRetry,
  transportFailure,
} from './retry-policy';

const meta = (code: number, error_subcode?: number): AttemptFailure => ({
  kind: 'meta',
  body: { code, error_subcode },
  httpStatus: 400,
});
const timeoutAfterWrite = transportFailure({
  code: 'ECONNABORTED',
  message: 'timeout of 100ms exceeded',
  request: { writableFinished: true },
});
const resetAfterWrite = transportFailure({
  code: 'ECONNRESET',
  message: 'socket hang up',
  request: { writableFinished: true },
});
const refused = transportFailure({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });

describe('transportFailure', () => {
  it('should treat a refused connection as never reaching Meta', () => {
    expect(refused).toEqual({
      kind: 'transport',
      errorCode: 'ECONNREFUSED',
      timeout: false,
      reachedMeta: false,
    });
  });

  it('should treat a timeout after the body was written as reaching Meta', () => {
    expect(timeoutAfterWrite).toMatchObject({ timeout: true, reachedMeta: true });
  });

  it('should treat a reset before the body was written as not reaching Meta', () => {
    const failure = transportFailure({ code: 'ECONNRESET', request: { writableFinished: false } });
    expect(failure).toMatchObject({ reachedMeta: false, timeout: false });
  });

  it('should assume the request arrived when it cannot tell', () => {
    expect(transportFailure({ code: 'ECONNRESET' })).toMatchObject({ reachedMeta: true });
  });

  it('should read the code of a wrapped cause', () => {
    expect(transportFailure({ cause: { code: 'ECONNREFUSED' } })).toMatchObject({
      errorCode: 'ECONNREFUSED',
    });
  });
});

describe('shouldRetry', () => {
  const cases: [string, AttemptFailure, CallKind, boolean][] = [
    ['a read after a timeout', timeoutAfterWrite, 'read', true],
    ['a send after a timeout', timeoutAfterWrite, 'send', false],
    ['a send after a reset', resetAfterWrite, 'send', false],
    ['a sender action after a timeout', timeoutAfterWrite, 'idempotent', true],
    ['a code exchange after a timeout', timeoutAfterWrite, 'once', false],
    ['a send after ECONNREFUSED', refused, 'send', true],
    ['a read after a 5xx without envelope', { kind: 'server', httpStatus: 503 }, 'read', true],
    ['a send after a 5xx without envelope', { kind: 'server', httpStatus: 500 }, 'send', false],
    ['a send after code 1', meta(1), 'send', true],
    ['a send after code 2', meta(2), 'send', true],
    ['a send after 1/1357046', meta(1, 1357046), 'send', false],
    ['a read after 1/1357046', meta(1, 1357046), 'read', true],
    ['a send after a rate limit', meta(613, 2534040), 'send', true],
    ['a send after a closed window', meta(10, 2534022), 'send', false],
    ['a read after an invalid token', meta(190, 463), 'read', false],
    ['a read after an unreadable 200', { kind: 'bad_reply', httpStatus: 200 }, 'read', true],
    ['a send after an unreadable 200', { kind: 'bad_reply', httpStatus: 200 }, 'send', false],
  ];
  it.each(cases)('should decide %s (%#)', (_name, failure, kind, expected) => {
    expect(shouldRetry(failure, kind)).toBe(expected);
  });
});

describe('errorForFailure', () => {
  it('should report a send timeout as 504 SEND_OUTCOME_UNKNOWN', () => {
    const error = errorForFailure(timeoutAfterWrite, 'send');
    expect(error).toMatchObject({ status: 504, code: 'SEND_OUTCOME_UNKNOWN', outcome: 'unknown' });
    expect(error.message).toMatch(/may have been delivered/);
  });

  it('should report a send reset as 502 SEND_OUTCOME_UNKNOWN', () => {
    expect(errorForFailure(resetAfterWrite, 'send')).toMatchObject({
      status: 502,
      code: 'SEND_OUTCOME_UNKNOWN',
      outcome: 'unknown',
    });
  });

  it('should report a 5xx on a send as outcome unknown', () => {
    expect(errorForFailure({ kind: 'server', httpStatus: 500 }, 'send')).toMatchObject({
      code: 'SEND_OUTCOME_UNKNOWN',
      outcome: 'unknown',
    });
  });

  it('should report a read timeout as 504 META_TIMEOUT', () => {
    expect(errorForFailure(timeoutAfterWrite, 'read')).toMatchObject({
      status: 504,
      code: 'META_TIMEOUT',
      outcome: 'failed',
    });
  });

  it('should report a refused send as failed, not unknown', () => {
    expect(errorForFailure(refused, 'send')).toMatchObject({
      status: 502,
      code: 'META_UNAVAILABLE',
      outcome: 'failed',
    });
  });

  it('should report a 5xx read as 502 META_UNAVAILABLE', () => {
    expect(errorForFailure({ kind: 'server', httpStatus: 503 }, 'read')).toMatchObject({
      status: 502,
      code: 'META_UNAVAILABLE',
    });
  });

  it('should report a 4xx without envelope as 502 META_ERROR', () => {
    expect(errorForFailure({ kind: 'bad_reply', httpStatus: 404 }, 'send')).toMatchObject({
      status: 502,
      code: 'META_ERROR',
      outcome: 'failed',
    });
  });
});

describe('backoffDelay', () => {
  it('should double per attempt between half and all of the step', () => {
    expect(backoffDelay(1, 200, 10_000, () => 0)).toBe(100);
    expect(backoffDelay(1, 200, 10_000, () => 1)).toBe(200);
    expect(backoffDelay(2, 200, 10_000, () => 0)).toBe(200);
    expect(backoffDelay(3, 200, 10_000, () => 1)).toBe(800);
  });

  it('should never exceed the bound', () => {
    expect(backoffDelay(30, 200, 2_000, () => 1)).toBe(2_000);
    expect(backoffDelay(30, 200, 2_000, () => 0)).toBe(1_000);
  });

  it('should spread retries with jitter', () => {
    const delays = new Set([0.1, 0.5, 0.9].map((r) => backoffDelay(2, 200, 10_000, () => r)));
    expect(delays.size).toBe(3);
  });
});
