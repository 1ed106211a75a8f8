import { HttpStatus } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';

/**
 * How a failure may be retried (errors.md §2, "Retry" column):
 * - `transient`: retry with jittered backoff, a few attempts;
 * - `rate_limit`: back off for this account (honour the regain time), then retry;
 * - `no`: the input or the account state must change first;
 * - `reauth`: the account owner must reconnect;
 * - `careful`: the action may have happened, never resend blindly.
 */
export type RetryClass = 'transient' | 'rate_limit' | 'no' | 'reauth' | 'careful';

/** `failed`: Meta did not act. `unknown`: a send may have been delivered; the echo webhook tells. */
export type SendOutcome = 'failed' | 'unknown';

export interface MetaErrorRule {
  status: HttpStatus;
  code: string;
  retry: RetryClass;
  /** Meaning from errors.md, also used as the `reason` of the token-invalid event. */
  meaning: string;
  /** Not an error for igdm: the caller treats the object as absent (230, 9010 on profiles). */
  absent?: true;
}

/** Graph API error envelope (errors.md §1). */
export interface MetaErrorBody {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  is_transient?: boolean;
  error_user_title?: string;
  error_user_msg?: string;
  fbtrace_id?: string;
}

/** Every (code) and (code/subcode) row of errors.md §2; `*` matches any code. A row missing from
 * {@link META_ERROR_RULES} does not compile. 200–299 is a range rule below. */
export type MetaErrorKey =
  | '1'
  | '1/99'
  | '1/1357046'
  | '2'
  | '2/1545133'
  | '3'
  | '4'
  | '10'
  | '10/2534022'
  | '10/2018278'
  | '10/2018065'
  | '10/2018108'
  | '10/1893063'
  | '10/2534077'
  | '17'
  | '32'
  | '100'
  | '100/33'
  | '100/2018001'
  | '100/2018008'
  | '100/2018047'
  | '100/2018074'
  | '100/2018109'
  | '100/2018294'
  | '100/2534013'
  | '100/2534014'
  | '100/2534015'
  | '100/2534025'
  | '100/2534029'
  | '100/2534037'
  | '102'
  | '190'
  | '190/458'
  | '190/459'
  | '190/460'
  | '190/463'
  | '190/464'
  | '190/467'
  | '190/492'
  | '200'
  | '200/1545041'
  | '200/2534041'
  | '230'
  | '341'
  | '368'
  | '551'
  | '551/1545041'
  | '613'
  | '613/2534040'
  | '613/2018338'
  | '2500'
  | '9010'
  | '36103'
  | '80002'
  | '80006'
  | '2018300'
  | '*/2534001'
  | '9000001';

const S = HttpStatus;
const REAUTH = 'ACCOUNT_REAUTH_REQUIRED';
const RATE = 'META_RATE_LIMITED';

const rateLimit = (meaning: string): MetaErrorRule => ({
  status: S.TOO_MANY_REQUESTS,
  code: RATE,
  retry: 'rate_limit',
  meaning,
});
const reauth = (meaning: string, code = REAUTH): MetaErrorRule => ({
  status: S.CONFLICT,
  code,
  retry: 'reauth',
  meaning,
});
const no = (status: HttpStatus, code: string, meaning: string): MetaErrorRule => ({
  status,
  code,
  retry: 'no',
  meaning,
});

/** errors.md §2, row by row. Status and stable code are what igdm's own API answers. */
export const META_ERROR_RULES: Record<MetaErrorKey, MetaErrorRule> = {
  '1': {
    status: S.BAD_GATEWAY,
    code: 'META_UNKNOWN_ERROR',
    retry: 'transient',
    meaning: 'unknown error',
  },
  '1/99': no(
    S.BAD_GATEWAY,
    'META_PERMISSION_MISSING',
    'unknown error, often missing permissions or access level',
  ),
  '1/1357046': {
    status: S.BAD_GATEWAY,
    code: 'SEND_OUTCOME_UNKNOWN',
    retry: 'careful',
    meaning: 'Meta reported a failure but the message may have been sent',
  },
  '2': {
    status: S.SERVICE_UNAVAILABLE,
    code: 'META_UNAVAILABLE',
    retry: 'transient',
    meaning: 'service temporarily unavailable',
  },
  '2/1545133': {
    status: S.SERVICE_UNAVAILABLE,
    code: 'META_UNAVAILABLE',
    retry: 'transient',
    meaning: 'service temporarily unavailable',
  },
  '3': no(S.BAD_GATEWAY, 'META_CAPABILITY_MISSING', 'app lacks the capability for this method'),
  '4': rateLimit('application request limit reached'),
  '10': no(S.FORBIDDEN, 'META_PERMISSION_DENIED', 'permission denied'),
  '10/2534022': no(S.UNPROCESSABLE_ENTITY, 'WINDOW_CLOSED', 'outside the allowed messaging window'),
  '10/2018278': no(S.UNPROCESSABLE_ENTITY, 'WINDOW_CLOSED', 'outside the allowed messaging window'),
  '10/2018065': no(
    S.UNPROCESSABLE_ENTITY,
    'WINDOW_CLOSED',
    'outside the window, needs news messaging',
  ),
  '10/2018108': no(
    S.UNPROCESSABLE_ENTITY,
    'RECIPIENT_UNAVAILABLE',
    'recipient cannot receive messages right now',
  ),
  '10/1893063': no(
    S.FORBIDDEN,
    'ACCOUNT_RESTRICTED',
    'business temporarily restricted from sending',
  ),
  '10/2534077': reauth('cannot verify the Instagram account link'),
  '17': rateLimit('user-level rate limit'),
  '32': rateLimit('page-level rate limit'),
  '100': no(S.BAD_REQUEST, 'META_INVALID_PARAMETER', 'invalid parameter'),
  '100/33': no(
    S.NOT_FOUND,
    'META_OBJECT_NOT_FOUND',
    'object does not exist or operation unsupported',
  ),
  '100/2018001': no(S.NOT_FOUND, 'RECIPIENT_NOT_FOUND', 'no matching user found'),
  '100/2018008': no(
    S.UNPROCESSABLE_ENTITY,
    'ATTACHMENT_UNREACHABLE',
    'could not fetch the attachment URL',
  ),
  '100/2018047': no(
    S.UNPROCESSABLE_ENTITY,
    'ATTACHMENT_TYPE_MISMATCH',
    'attachment type does not match the file',
  ),
  '100/2018074': no(
    S.UNPROCESSABLE_ENTITY,
    'ATTACHMENT_INVALID',
    'attachment id invalid or not owned',
  ),
  '100/2018109': no(S.PAYLOAD_TOO_LARGE, 'ATTACHMENT_TOO_LARGE', 'attachment too large'),
  '100/2018294': no(
    S.UNPROCESSABLE_ENTITY,
    'ATTACHMENT_FETCH_FAILED',
    'video fetch timed out or file corrupt',
  ),
  '100/2534013': reauth('page not linked to an Instagram account'),
  '100/2534014': no(
    S.NOT_FOUND,
    'RECIPIENT_NOT_FOUND',
    'id is not a valid Instagram-scoped user id',
  ),
  '100/2534015': no(
    S.UNPROCESSABLE_ENTITY,
    'INVALID_MESSAGE',
    'invalid message data for this message type',
  ),
  '100/2534025': no(S.CONFLICT, 'PRIVATE_REPLY_USED', 'comment not valid for a private reply'),
  '100/2534029': no(S.FORBIDDEN, 'ACCOUNT_RESTRICTED', 'business blocked from the messaging API'),
  '100/2534037': no(S.CONFLICT, 'NOT_THREAD_OWNER', 'not the thread owner'),
  '102': reauth('API session invalid'),
  '190': reauth('access token invalid, expired or revoked'),
  '190/458': reauth('user removed the app'),
  '190/459': reauth('user checkpointed'),
  '190/460': reauth('password changed or session invalidated'),
  '190/463': reauth('access token expired'),
  '190/464': reauth('unconfirmed user'),
  '190/467': reauth('invalid access token'),
  '190/492': reauth('invalid session'),
  '200': no(S.FORBIDDEN, 'META_PERMISSION_DENIED', 'permission error'),
  '200/1545041': no(S.UNPROCESSABLE_ENTITY, 'RECIPIENT_UNAVAILABLE', 'recipient not available'),
  '200/2534041': reauth('owner disabled API access to messages', 'ACCOUNT_MESSAGING_DISABLED'),
  // igdm never surfaces 230: the profile is omitted (getUserProfile returns null). The 404 only
  // applies if some other call ever returns it.
  '230': {
    ...no(
      S.NOT_FOUND,
      'PROFILE_CONSENT_REQUIRED',
      'user consent is required to access the profile',
    ),
    absent: true,
  },
  '341': rateLimit('application limit reached'),
  '368': no(S.FORBIDDEN, 'ACCOUNT_RESTRICTED', 'temporarily blocked for policy violations'),
  '551': no(
    S.UNPROCESSABLE_ENTITY,
    'RECIPIENT_UNAVAILABLE',
    'person is not receiving messages from you',
  ),
  '551/1545041': no(
    S.UNPROCESSABLE_ENTITY,
    'RECIPIENT_UNAVAILABLE',
    'person is not available right now',
  ),
  '613': rateLimit('custom-level rate limit'),
  '613/2534040': rateLimit('messaging API rate limit exceeded'),
  '613/2018338': rateLimit('abusive use of message tags'),
  '2500': no(S.INTERNAL_SERVER_ERROR, 'META_BAD_PATH', 'unknown path components'),
  '9010': {
    ...no(S.NOT_FOUND, 'INSTAGRAM_USER_NOT_FOUND', 'no matching Instagram user'),
    absent: true,
  },
  '36103': no(S.FORBIDDEN, 'ACCOUNT_NOT_ELIGIBLE', 'account not yet eligible for the API'),
  '80002': rateLimit('Instagram business use case rate limit'),
  '80006': rateLimit('Messenger business use case rate limit'),
  '2018300': no(S.CONFLICT, 'THREAD_CONTROLLED_BY_OTHER_APP', 'another app controls the thread'),
  '*/2534001': no(S.CONFLICT, 'THREAD_UNAVAILABLE', 'thread archived or deleted by its owner'),
  '9000001': no(S.GONE, 'MESSAGE_DELETED', 'message deleted'),
};

export const PERMISSION_FAMILY_RULE: MetaErrorRule = no(
  S.FORBIDDEN,
  'META_PERMISSION_DENIED',
  'permission not granted or revoked',
);
export const UNKNOWN_CODE_RULE: MetaErrorRule = no(
  S.BAD_GATEWAY,
  'META_ERROR',
  'unrecognised Meta error',
);

/**
 * Finds the row for (code, subcode): exact pair first, then the subcode on any code, then the
 * code alone, then the 200–299 family; anything else is {@link UNKNOWN_CODE_RULE}.
 */
export function ruleFor(code: number | undefined, subcode?: number | null): MetaErrorRule {
  const rules = META_ERROR_RULES as Record<string, MetaErrorRule | undefined>;
  if (code === undefined) return UNKNOWN_CODE_RULE;
  if (subcode !== undefined && subcode !== null) {
    const exact = rules[`${code}/${subcode}`] ?? rules[`*/${subcode}`];
    if (exact) return exact;
  }
  const byCode = rules[String(code)];
  if (byCode) return byCode;
  if (code >= 200 && code <= 299) return PERMISSION_FAMILY_RULE;
  return UNKNOWN_CODE_RULE;
}

export interface MetaApiErrorInit {
  status: HttpStatus;
  code: string;
  message: string;
  retry: RetryClass;
  outcome?: SendOutcome;
  metaCode?: number | null;
  metaSubcode?: number | null;
  metaType?: string | null;
  fbtraceId?: string | null;
  /** Seconds; becomes the `Retry-After` header. */
  retryAfterSeconds?: number;
  /** Meta's own wording, for the dashboard's details only (never matched on). */
  metaMessage?: string;
}

/**
 * Every failure of a call to Meta, envelope or transport. `reauthRequired` means the account must
 * be reconnected; `outcome: 'unknown'` means a send may have been delivered anyway.
 */
export class MetaApiError extends AppError {
  readonly metaCode: number | null;
  readonly metaSubcode: number | null;
  readonly metaType: string | null;
  readonly fbtraceId: string | null;
  readonly retry: RetryClass;
  readonly retryable: boolean;
  readonly outcome: SendOutcome;
  readonly reauthRequired: boolean;
  readonly retryAfterSeconds: number | null;

  constructor(init: MetaApiErrorInit) {
    const headers: Record<string, string> = {};
    if (init.retryAfterSeconds !== undefined)
      headers['Retry-After'] = String(init.retryAfterSeconds);
    const details: Record<string, unknown> = {};
    if (init.metaCode !== undefined && init.metaCode !== null) details.meta_code = init.metaCode;
    if (init.metaSubcode !== undefined && init.metaSubcode !== null)
      details.meta_subcode = init.metaSubcode;
    if (init.fbtraceId) details.fbtrace_id = init.fbtraceId;
    if (init.metaMessage) details.meta_message = init.metaMessage;
    if (init.outcome === 'unknown') details.outcome = 'unknown';
    super(init.status, init.code, init.message, {
      headers: Object.keys(headers).length > 0 ? headers : undefined,
      details: Object.keys(details).length > 0 ? details : undefined,
    });
    this.metaCode = init.metaCode ?? null;
    this.metaSubcode = init.metaSubcode ?? null;
    this.metaType = init.metaType ?? null;
    this.fbtraceId = init.fbtraceId ?? null;
    this.retry = init.retry;
    this.retryable = init.retry === 'transient' || init.retry === 'rate_limit';
    this.outcome = init.outcome ?? 'failed';
    this.reauthRequired = init.retry === 'reauth';
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
  }
}

export const OUTCOME_UNKNOWN_MESSAGE =
  'Instagram did not confirm the send: the message may have been delivered. ' +
  'Do not resend yet; the echo webhook will confirm it if it was.';

const MESSAGE_BY_CODE: Record<string, string> = {
  WINDOW_CLOSED:
    'The messaging window is closed: the customer must write again (a human agent may reply within 7 days with the HUMAN_AGENT tag)',
  RECIPIENT_UNAVAILABLE: 'This person is not receiving messages from this account right now',
  RECIPIENT_NOT_FOUND: 'No Instagram user matches this recipient id',
  ACCOUNT_REAUTH_REQUIRED:
    'The Instagram account must be reconnected: its access was revoked or expired',
  ACCOUNT_MESSAGING_DISABLED:
    'The account owner turned off message access for connected tools in Instagram settings',
  ACCOUNT_RESTRICTED: 'Instagram temporarily restricts this account from sending messages',
  META_RATE_LIMITED: 'Instagram rate limit reached for this account; retry later',
  PRIVATE_REPLY_USED:
    'This comment cannot get a private reply (already answered, older than 7 days, or deleted)',
  MESSAGE_DELETED: 'The message was deleted',
  SEND_OUTCOME_UNKNOWN: OUTCOME_UNKNOWN_MESSAGE,
};

/** Maps a Graph error envelope to the error igdm raises. `send` marks a POST that carries a
 * message: only there does 1/1357046 mean "may have been sent". */
export function metaApiErrorFrom(
  body: MetaErrorBody,
  ctx: { send: boolean; retryAfterSeconds?: number },
): MetaApiError {
  const code = typeof body.code === 'number' ? body.code : undefined;
  const subcode = typeof body.error_subcode === 'number' ? body.error_subcode : null;
  let rule = ruleFor(code, subcode);
  if (rule.retry === 'careful' && !ctx.send) {
    // Nothing can have been "sent" by a read or a sender action: treat it as the plain code 1.
    rule = META_ERROR_RULES['1'];
  }
  const outcome: SendOutcome = rule.retry === 'careful' ? 'unknown' : 'failed';
  return new MetaApiError({
    status: rule.status,
    code: rule.code,
    message: MESSAGE_BY_CODE[rule.code] ?? `Instagram refused the request: ${rule.meaning}`,
    retry: rule.retry,
    outcome,
    metaCode: code ?? null,
    metaSubcode: subcode,
    metaType: typeof body.type === 'string' ? body.type : null,
    fbtraceId: typeof body.fbtrace_id === 'string' ? body.fbtrace_id : null,
    retryAfterSeconds: rule.retry === 'rate_limit' ? (ctx.retryAfterSeconds ?? 60) : undefined,
    metaMessage: typeof body.message === 'string' ? body.message.slice(0, 300) : undefined,
  });
}

/** Reads a Graph error envelope out of a parsed reply body, or null if it is not one. */
export function metaErrorBodyOf(parsed: unknown): MetaErrorBody | null {
  if (typeof parsed !== 'object' || parsed === null) return null;
  const error = (parsed as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const code = (error as MetaErrorBody).code;
  return typeof code === 'number' ? error : null;
}

/** The code-exchange endpoint's own envelope (oauth.md §2.3). */
export interface OAuthErrorBody {
  error_type?: string;
  code?: number;
  error_message?: string;
}

export function oauthErrorBodyOf(parsed: unknown): OAuthErrorBody | null {
  if (typeof parsed !== 'object' || parsed === null) return null;
  const body = parsed as OAuthErrorBody;
  return typeof body.error_type === 'string' || typeof body.error_message === 'string'
    ? body
    : null;
}

export function oauthCodeInvalid(body: OAuthErrorBody): MetaApiError {
  return new MetaApiError({
    status: S.BAD_REQUEST,
    code: 'OAUTH_CODE_INVALID',
    message:
      'The Instagram authorization code is invalid, expired or already used: start the login again',
    retry: 'no',
    metaCode: typeof body.code === 'number' ? body.code : null,
    metaType: body.error_type ?? null,
    metaMessage: body.error_message?.slice(0, 300),
  });
}
