/**
 * Graph API errors in Meta's envelope (errors.md §1):
 * {"error":{"message","type","code","error_subcode"?,"is_transient"?,…,"fbtrace_id"}}.
 */

export interface MetaErrorSpec {
  code: number;
  subcode?: number;
  type?: string;
  message?: string;
  isTransient?: boolean;
  userTitle?: string;
  userMsg?: string;
  /** HTTP status; Meta mostly answers 400. */
  httpStatus?: number;
}

/** Default messages by code, used when a fault or rule does not give one. */
const DEFAULT_MESSAGES: Record<number, string> = {
  1: 'An unknown error has occurred.',
  2: 'An unexpected error has occurred. Please retry your request later.',
  4: '(#4) Application request limit reached',
  10: '(#10) Application does not have permission for this action',
  17: '(#17) User request limit reached',
  100: '(#100) Invalid parameter',
  190: 'Invalid OAuth access token - Cannot parse access token',
  200: '(#200) Permissions error',
  230: 'User consent is required to access user profile',
  551: "This person isn't available right now.",
  613: 'Calls to this api have exceeded the rate limit.',
  2500: 'Unknown path components',
  9010: 'No matching Instagram user',
  80002:
    'There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.',
};

const TRANSIENT = new Set([1, 2, 4, 17, 32, 341, 613, 80002, 80006]);

export class GraphError extends Error {
  readonly code: number;
  readonly subcode?: number;
  readonly type: string;
  readonly isTransient?: boolean;
  readonly userTitle?: string;
  readonly userMsg?: string;
  readonly httpStatus: number;
  headers: Record<string, string> = {};

  constructor(spec: MetaErrorSpec) {
    super(spec.message ?? DEFAULT_MESSAGES[spec.code] ?? `(#${spec.code}) Error`);
    this.code = spec.code;
    this.subcode = spec.subcode;
    this.type = spec.type ?? 'OAuthException';
    this.isTransient = spec.isTransient ?? (TRANSIENT.has(spec.code) ? true : undefined);
    this.userTitle = spec.userTitle;
    this.userMsg = spec.userMsg;
    this.httpStatus = spec.httpStatus ?? 400;
  }

  toBody(fbtraceId: string): Record<string, unknown> {
    return {
      error: {
        message: this.message,
        type: this.type,
        code: this.code,
        error_subcode: this.subcode,
        is_transient: this.isTransient,
        error_user_title: this.userTitle,
        error_user_msg: this.userMsg,
        fbtrace_id: fbtraceId,
      },
    };
  }
}

export const errors = {
  noToken: () =>
    new GraphError({ code: 104, message: 'An access token is required to request this resource.' }),
  badToken: () => new GraphError({ code: 190 }),
  invalidatedToken: (subcode: number) =>
    new GraphError({
      code: 190,
      subcode,
      message:
        subcode === 460
          ? 'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.'
          : 'Error validating access token: The session is invalid because the user logged out.',
    }),
  expiredToken: (expiresAt: number, now: number) =>
    new GraphError({
      code: 190,
      subcode: 463,
      message: `Error validating access token: Session has expired on ${fbDate(expiresAt)}. The current time is ${fbDate(now)}.`,
    }),
  unknownObject: (id: string, method: string) =>
    new GraphError({
      code: 100,
      subcode: 33,
      type: 'GraphMethodException',
      message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    }),
  unknownPath: (path: string) =>
    new GraphError({
      code: 2500,
      type: 'IGApiException',
      message: `Unknown path components: ${path}`,
    }),
  param: (message: string, subcode?: number) =>
    new GraphError({ code: 100, subcode, message: `(#100) ${message}` }),
  outsideWindow: () =>
    new GraphError({
      code: 10,
      subcode: 2534022,
      message: '(#10) This message is sent outside of allowed window.',
      userTitle: 'Message Not Sent',
      userMsg: 'This message was not sent because it is outside of the allowed window.',
    }),
  noMatchingUser: () =>
    new GraphError({ code: 100, subcode: 2534014, message: 'No matching user found' }),
  privateReplyInvalid: () =>
    new GraphError({
      code: 100,
      subcode: 2534025,
      message:
        '(#100) This comment is not valid for a private reply: it was already replied to privately, is older than 7 days, or was deleted.',
    }),
  sendPermission: () => new GraphError({ code: 10 }),
  readPermission: (perm: string) =>
    new GraphError({
      code: 200,
      message: `(#200) Requires ${perm} permission to manage the object`,
    }),
  consent: () => new GraphError({ code: 230 }),
  rateLimited: (code: number) =>
    new GraphError({ code, subcode: code === 613 ? 2534040 : undefined }),
  messageGone: () =>
    new GraphError({
      code: 100,
      subcode: 33,
      type: 'GraphMethodException',
      message:
        'Unsupported get request. The message was deleted or is no longer available (only the 20 most recent messages of a conversation can be read).',
    }),
};

/** Date format of Meta's token-expiry messages: "Monday, 01-Jan-26 12:00:00 PST". */
function fbDate(ms: number): string {
  const d = new Date(ms);
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const months = [
    'Jan',
    'Feb',
    'Mar',
    'Apr',
    'May',
    'Jun',
    'Jul',
    'Aug',
    'Sep',
    'Oct',
    'Nov',
    'Dec',
  ];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())}-${months[d.getUTCMonth()]}-${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC`;
}
