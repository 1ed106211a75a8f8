import {
  META_ERROR_RULES,
  MetaApiError,
  metaApiErrorFrom,
  metaErrorBodyOf,
  oauthCodeInvalid,
  oauthErrorBodyOf,
  RetryClass,
  ruleFor,
  SendOutcome,
} from './meta-error';

type Row = [
  code: number,
  subcode: number | null,
  status: number,
  errorCode: string,
  retry: RetryClass,
  outcome: SendOutcome,
];

/** errors.md §2, every row, as a send would see it. */
const ROWS: Row[] = [
  [1, null, 502, 'META_UNKNOWN_ERROR', 'transient', 'failed'],
  [1, 99, 502, 'META_PERMISSION_MISSING', 'no', 'failed'],
  [1, 1357046, 502, 'SEND_OUTCOME_UNKNOWN', 'careful', 'unknown'],
  [2, null, 503, 'META_UNAVAILABLE', 'transient', 'failed'],
  [2, 1545133, 503, 'META_UNAVAILABLE', 'transient', 'failed'],
  [3, null, 502, 'META_CAPABILITY_MISSING', 'no', 'failed'],
  [4, null, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [10, null, 403, 'META_PERMISSION_DENIED', 'no', 'failed'],
  [10, 2534022, 422, 'WINDOW_CLOSED', 'no', 'failed'],
  [10, 2018278, 422, 'WINDOW_CLOSED', 'no', 'failed'],
  [10, 2018065, 422, 'WINDOW_CLOSED', 'no', 'failed'],
  [10, 2018108, 422, 'RECIPIENT_UNAVAILABLE', 'no', 'failed'],
  [10, 1893063, 403, 'ACCOUNT_RESTRICTED', 'no', 'failed'],
  [10, 2534077, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [17, null, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [32, null, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [100, null, 400, 'META_INVALID_PARAMETER', 'no', 'failed'],
  [100, 33, 404, 'META_OBJECT_NOT_FOUND', 'no', 'failed'],
  [100, 2018001, 404, 'RECIPIENT_NOT_FOUND', 'no', 'failed'],
  [100, 2018008, 422, 'ATTACHMENT_UNREACHABLE', 'no', 'failed'],
  [100, 2018047, 422, 'ATTACHMENT_TYPE_MISMATCH', 'no', 'failed'],
  [100, 2018074, 422, 'ATTACHMENT_INVALID', 'no', 'failed'],
  [100, 2018109, 413, 'ATTACHMENT_TOO_LARGE', 'no', 'failed'],
  [100, 2018294, 422, 'ATTACHMENT_FETCH_FAILED', 'no', 'failed'],
  [100, 2534013, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [100, 2534014, 404, 'RECIPIENT_NOT_FOUND', 'no', 'failed'],
  [100, 2534015, 422, 'INVALID_MESSAGE', 'no', 'failed'],
  [100, 2534025, 409, 'PRIVATE_REPLY_USED', 'no', 'failed'],
  [100, 2534029, 403, 'ACCOUNT_RESTRICTED', 'no', 'failed'],
  [100, 2534037, 409, 'NOT_THREAD_OWNER', 'no', 'failed'],
  [102, null, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, null, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, 458, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, 459, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, 460, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, 463, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, 464, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, 467, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [190, 492, 409, 'ACCOUNT_REAUTH_REQUIRED', 'reauth', 'failed'],
  [200, null, 403, 'META_PERMISSION_DENIED', 'no', 'failed'],
  [200, 1545041, 422, 'RECIPIENT_UNAVAILABLE', 'no', 'failed'],
  [200, 2534041, 409, 'ACCOUNT_MESSAGING_DISABLED', 'reauth', 'failed'],
  [250, null, 403, 'META_PERMISSION_DENIED', 'no', 'failed'],
  [299, null, 403, 'META_PERMISSION_DENIED', 'no', 'failed'],
  [230, null, 404, 'PROFILE_CONSENT_REQUIRED', 'no', 'failed'],
  [341, null, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [368, null, 403, 'ACCOUNT_RESTRICTED', 'no', 'failed'],
  [551, null, 422, 'RECIPIENT_UNAVAILABLE', 'no', 'failed'],
  [551, 1545041, 422, 'RECIPIENT_UNAVAILABLE', 'no', 'failed'],
  [613, null, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [613, 2534040, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [613, 2018338, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [2500, null, 500, 'META_BAD_PATH', 'no', 'failed'],
  [9010, null, 404, 'INSTAGRAM_USER_NOT_FOUND', 'no', 'failed'],
  [36103, null, 403, 'ACCOUNT_NOT_ELIGIBLE', 'no', 'failed'],
  [80002, null, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [80006, null, 429, 'META_RATE_LIMITED', 'rate_limit', 'failed'],
  [2018300, null, 409, 'THREAD_CONTROLLED_BY_OTHER_APP', 'no', 'failed'],
  [100, 2534001, 409, 'THREAD_UNAVAILABLE', 'no', 'failed'],
  [9000001, null, 410, 'MESSAGE_DELETED', 'no', 'failed'],
];

function envelope(code: number, subcode: number | null) {
  return {
    error: {
      message: `(#${code}) something`,
      type: 'OAuthException',
      code,
      ...(subcode === null ? {} : { error_subcode: subcode }),
      fbtrace_id: 'AbC123xyz',
    },
  };
}

describe('Meta error table (errors.md §2)', () => {
  it.each(ROWS)(
    'should map %p/%p to HTTP %p %p (retry %p, outcome %p)',
    (code, subcode, status, errorCode, retry, outcome) => {
      const body = metaErrorBodyOf(envelope(code, subcode));
      expect(body).not.toBeNull();
      const error = metaApiErrorFrom(body!, { send: true });

      expect(error).toBeInstanceOf(MetaApiError);
      expect(error.status).toBe(status);
      expect(error.code).toBe(errorCode);
      expect(error.retry).toBe(retry);
      expect(error.outcome).toBe(outcome);
      expect(error.metaCode).toBe(code);
      expect(error.metaSubcode).toBe(subcode);
      expect(error.fbtraceId).toBe('AbC123xyz');
      expect(error.reauthRequired).toBe(retry === 'reauth');
      expect(error.retryable).toBe(retry === 'transient' || retry === 'rate_limit');
      // 401 is reserved for the dashboard user's own JWT.
      expect(error.status).not.toBe(401);
    },
  );

  it('should cover every row of the table in the spec above', () => {
    const tested = new Set(
      ROWS.map(([code, subcode]) => (subcode === null ? `${code}` : `${code}/${subcode}`)),
    );
    const missing = Object.keys(META_ERROR_RULES).filter(
      (key) => !tested.has(key) && !tested.has(key.replace('*', '100')),
    );
    expect(missing).toEqual([]);
  });

  it('should map an unknown subcode by its code', () => {
    expect(ruleFor(190, 999_999).code).toBe('ACCOUNT_REAUTH_REQUIRED');
    expect(ruleFor(10, 1).code).toBe('META_PERMISSION_DENIED');
    expect(ruleFor(613, 42).code).toBe('META_RATE_LIMITED');
  });

  it('should map an unknown code to 502 META_ERROR', () => {
    const error = metaApiErrorFrom({ code: 123456, message: 'new' }, { send: false });
    expect(error.status).toBe(502);
    expect(error.code).toBe('META_ERROR');
    expect(error.retry).toBe('no');
  });

  it('should map the thread-deleted subcode whatever its parent code', () => {
    expect(ruleFor(10, 2534001).code).toBe('THREAD_UNAVAILABLE');
  });

  it('should mark 230 and 9010 as absent rather than failures', () => {
    expect(ruleFor(230).absent).toBe(true);
    expect(ruleFor(9010).absent).toBe(true);
    expect(ruleFor(100).absent).toBeUndefined();
  });

  it('should not call 1/1357046 an unknown outcome outside a send', () => {
    const error = metaApiErrorFrom({ code: 1, error_subcode: 1357046 }, { send: false });
    expect(error.outcome).toBe('failed');
    expect(error.code).toBe('META_UNKNOWN_ERROR');
  });

  it('should say a 1/1357046 send may have been delivered', () => {
    const error = metaApiErrorFrom({ code: 1, error_subcode: 1357046 }, { send: true });
    expect(error.message).toMatch(/may have been delivered/);
    expect(error.message).toMatch(/echo webhook/);
  });

  it('should put Retry-After on rate limits', () => {
    const error = metaApiErrorFrom({ code: 80002 }, { send: false, retryAfterSeconds: 600 });
    expect(error.options.headers).toEqual({ 'Retry-After': '600' });
    expect(error.retryAfterSeconds).toBe(600);
  });

  it('should keep Meta codes and trace id in the details, not the message', () => {
    const error = metaApiErrorFrom(envelope(10, 2534022).error, { send: true });
    expect(error.options.details).toEqual({
      meta_code: 10,
      meta_subcode: 2534022,
      fbtrace_id: 'AbC123xyz',
      meta_message: '(#10) something',
    });
    expect(error.message).not.toContain('something');
  });

  it('should not read non-envelopes as Meta errors', () => {
    expect(metaErrorBodyOf({ error: 'nope' })).toBeNull();
    expect(metaErrorBodyOf({ data: [] })).toBeNull();
    expect(metaErrorBodyOf('text')).toBeNull();
  });

  it('should map the OAuth code-exchange envelope to 400 OAUTH_CODE_INVALID', () => {
    const body = oauthErrorBodyOf({
      error_type: 'OAuthException',
      code: 400,
      error_message: 'Matching code was not found or was already used',
    });
    expect(body).not.toBeNull();
    const error = oauthCodeInvalid(body!);
    expect(error.status).toBe(400);
    expect(error.code).toBe('OAUTH_CODE_INVALID');
    expect(error.reauthRequired).toBe(false);
  });
});
