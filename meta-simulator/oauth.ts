import type { AuthorizationDecision, SimContext } from './context';
import type { Params } from './http-util';
import { newAuthCode } from './ids';
import { metaStringify, RawJsonNumber } from './serialize';
import { HOUR_MS } from './state';

/**
 * Business Login for Instagram (oauth.md §2): the www.instagram.com authorize redirect and the
 * api.instagram.com code exchange, which uses its own flat error envelope.
 */

export const KNOWN_SCOPES = [
  'instagram_business_basic',
  'instagram_business_manage_messages',
  'instagram_business_manage_comments',
  'instagram_business_content_publish',
  'instagram_business_manage_insights',
];

export interface OAuthReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function html(status: number, title: string, inner = ''): OAuthReply {
  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><html><head><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${inner}</body></html>`,
  };
}

function redirect(location: string): OAuthReply {
  return { status: 302, headers: { location }, body: '' };
}

function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const [base] = uri.split('#');
  return `${base}${base.includes('?') ? '&' : '?'}${q.toString()}#_`;
}

export function splitScopes(raw: string | undefined): string[] {
  return (raw ?? '').split(/[,\s]+/).filter(Boolean);
}

export function handleAuthorize(ctx: SimContext, query: Record<string, string>): OAuthReply {
  const { client_id, redirect_uri, response_type, state } = query;
  if (client_id !== ctx.clientId) return html(400, 'Invalid platform app');
  if (!redirect_uri || !/^https?:\/\//.test(redirect_uri)) {
    return html(400, 'Invalid redirect_uri', '<p>redirect_uri is required.</p>');
  }
  if (ctx.redirectUris && !ctx.redirectUris.includes(redirect_uri)) {
    return html(
      400,
      'Invalid redirect_uri',
      '<p>The redirect_uri is not registered for this app.</p>',
    );
  }
  if (response_type !== 'code') return html(400, 'Invalid response_type', '<p>Expected code.</p>');
  const scopes = splitScopes(query.scope);
  const invalid = scopes.filter((s) => !KNOWN_SCOPES.includes(s));
  if (invalid.length) return html(400, `Invalid Scopes: ${invalid.join(', ')}`);
  if (!scopes.includes('instagram_business_basic')) {
    return html(400, 'Invalid Scopes', '<p>instagram_business_basic is required.</p>');
  }

  let decision: AuthorizationDecision | undefined = ctx.authorizations.shift();
  // Without a queued decision a human is at the browser: the consent page links back here.
  if (!decision && query._sim_deny) {
    const any = [...ctx.state.businesses.values()][0];
    if (any) decision = { business: any, deny: true };
  }
  if (!decision && query._sim_business) {
    const business = ctx.state.businesses.get(query._sim_business);
    if (business) decision = { business };
  }
  if (!decision) return consentPage(ctx, query);

  if (decision.deny) {
    return redirect(
      withQuery(redirect_uri, {
        error: 'access_denied',
        error_reason: 'user_denied',
        error_description: 'The user denied your request.',
        state,
      }),
    );
  }
  const granted = decision.grant ? scopes.filter((s) => decision.grant?.includes(s)) : scopes;
  const code = newAuthCode();
  ctx.state.authCodes.set(code, {
    code,
    igId: decision.business.igId,
    clientId: client_id,
    redirectUri: redirect_uri,
    permissions: granted,
    createdAt: ctx.clock.now(),
    used: false,
  });
  return redirect(withQuery(redirect_uri, { code, state }));
}

function consentPage(ctx: SimContext, query: Record<string, string>): OAuthReply {
  const base = new URLSearchParams(query);
  const link = (extra: Record<string, string>, label: string): string => {
    const q = new URLSearchParams(base);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return `<li><a href="?${q.toString().replace(/&/g, '&amp;')}">${label}</a></li>`;
  };
  const items = [...ctx.state.businesses.values()].map((b) =>
    link({ _sim_business: b.igId }, `Allow as @${b.username.replace(/[^\w.]/g, '')}`),
  );
  items.push(link({ _sim_deny: '1' }, 'Cancel (deny)'));
  return html(200, 'Meta simulator: authorize app', `<ul>${items.join('')}</ul>`);
}

function oauthError(message: string): OAuthReply {
  return {
    status: 400,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    body: metaStringify({ error_type: 'OAuthException', code: 400, error_message: message }),
  };
}

export function handleCodeExchange(ctx: SimContext, params: Params): OAuthReply {
  const str = (k: string): string | undefined =>
    typeof params[k] === 'string' ? params[k] : undefined;
  if (str('client_id') !== ctx.clientId) return oauthError('Invalid platform app');
  if (str('client_secret') !== ctx.appSecret) return oauthError('Error validating client secret.');
  if (str('grant_type') !== 'authorization_code') return oauthError('Invalid grant_type');
  const rec = ctx.state.authCodes.get(str('code') ?? '');
  if (!rec || rec.used) return oauthError('Matching code was not found or was already used');
  if (ctx.clock.now() - rec.createdAt > HOUR_MS)
    return oauthError('This authorization code has expired.');
  if (str('redirect_uri') !== rec.redirectUri) {
    return oauthError(
      'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
    );
  }
  rec.used = true;
  const token = ctx.state.issueToken(rec.igId, 'short', rec.permissions);
  ctx.state.adoptToken(token);
  return {
    status: 200,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    // user_id is an unquoted number beyond 2^53 on the wire: JSON.parse would round it.
    body: metaStringify({
      access_token: token.token,
      user_id: new RawJsonNumber(rec.igId),
      permissions: rec.permissions,
    }),
  };
}
