import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../config/app-config';
import { idString, isObject, stringOrNull } from './graph-json';
import { GraphTransport, stripTrailingSlash } from './graph-transport';
import {
  AuthorizeUrlParams,
  InstagramMe,
  LongLivedToken,
  ShortLivedToken,
} from './instagram-graph.types';

const ME_FIELDS = 'user_id,username,name,account_type,profile_picture_url';

/** Accepts `{…}` and the `{data:[{…}]}` wrapping some Meta samples show. */
function unwrapData(body: unknown): Record<string, unknown> | null {
  if (isObject(body) && Array.isArray(body.data))
    return isObject(body.data[0]) ? body.data[0] : null;
  return isObject(body) ? body : null;
}

function readLongLived(body: unknown): LongLivedToken | null {
  const token = unwrapData(body);
  if (!token) return null;
  const accessToken = stringOrNull(token.access_token);
  const expiresIn =
    typeof token.expires_in === 'number' ? token.expires_in : Number(token.expires_in);
  if (!accessToken || !Number.isFinite(expiresIn)) return null;
  return {
    access_token: accessToken,
    token_type: stringOrNull(token.token_type) ?? 'bearer',
    expires_in: expiresIn,
  };
}

/**
 * Instagram Business Login (oauth.md): the authorize URL, the code → short-lived → long-lived
 * token exchanges, the refresh, and `/me` to learn which account a token belongs to. The only
 * endpoints that carry the app's credentials.
 */
@Injectable()
export class OAuthEndpoints {
  private readonly wwwUrl: string;
  private readonly clientId: string;
  private readonly clientSecret: string;

  constructor(
    private readonly transport: GraphTransport,
    @Inject(ConfigService) config: AppConfig,
  ) {
    this.wwwUrl = stripTrailingSlash(config.get('INSTAGRAM_WWW_URL', { infer: true }));
    this.clientId = config.get('INSTAGRAM_CLIENT_ID', { infer: true });
    this.clientSecret = config.get('INSTAGRAM_CLIENT_SECRET', { infer: true });
  }

  /** Where to send the browser to connect an account (oauth.md §2.1). */
  authorizeUrl({ redirectUri, scopes, state, forceReauth }: AuthorizeUrlParams): string {
    const params = new URLSearchParams({
      client_id: this.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: scopes.join(','),
      state,
    });
    if (forceReauth) params.set('force_reauth', 'true');
    return `${this.wwwUrl}/oauth/authorize?${params.toString()}`;
  }

  /**
   * Code → short-lived token (1 h). Accepts the flat reply (numeric `user_id`, `permissions`
   * array) and the documented `{data:[…]}` one; `user_id` keeps every digit.
   */
  exchangeCode(code: string, redirectUri: string): Promise<ShortLivedToken> {
    return this.transport.call(
      {
        method: 'POST',
        base: 'api',
        path: '/oauth/access_token',
        template: 'POST /oauth/access_token',
        form: {
          client_id: this.clientId,
          client_secret: this.clientSecret,
          grant_type: 'authorization_code',
          redirect_uri: redirectUri,
          // Meta appends `#_` to the callback URL; it is not part of the code.
          code: code.replace(/#_$/, ''),
        },
        kind: 'once',
        oauthEnvelope: true,
      },
      (body) => {
        const token = unwrapData(body);
        if (!token) return null;
        const accessToken = stringOrNull(token.access_token);
        const userId = idString(token.user_id);
        if (!accessToken || !userId) return null;
        const permissions = Array.isArray(token.permissions)
          ? token.permissions.filter((p): p is string => typeof p === 'string')
          : typeof token.permissions === 'string'
            ? token.permissions
                .split(',')
                .map((p) => p.trim())
                .filter(Boolean)
            : [];
        return { access_token: accessToken, user_id: userId, permissions };
      },
    );
  }

  /** Short-lived → long-lived token (about 60 days). Server-side only: it carries the app secret. */
  exchangeLongLived(shortToken: string): Promise<LongLivedToken> {
    return this.transport.call(
      {
        method: 'GET',
        base: 'graph',
        path: '/access_token',
        template: 'GET /access_token',
        query: { grant_type: 'ig_exchange_token', client_secret: this.clientSecret },
        token: shortToken,
        kind: 'read',
      },
      readLongLived,
    );
  }

  /** New 60-day token from a long-lived one that is at least 24 h old and not expired. */
  refreshToken(longToken: string): Promise<LongLivedToken> {
    return this.transport.call(
      {
        method: 'GET',
        base: 'graph',
        path: '/refresh_access_token',
        template: 'GET /refresh_access_token',
        query: { grant_type: 'ig_refresh_token' },
        token: longToken,
        kind: 'read',
      },
      readLongLived,
    );
  }

  /** The account a token belongs to. Persist `user_id`; `app_scoped_id` is not the account id. */
  getMe(accessToken: string): Promise<InstagramMe> {
    return this.transport.call(
      {
        method: 'GET',
        path: '/me',
        template: 'GET /me',
        query: { fields: ME_FIELDS },
        token: accessToken,
        kind: 'read',
      },
      (body) => {
        const me = unwrapData(body);
        const userId = me ? idString(me.user_id) : null;
        if (!me || !userId) return null;
        return {
          user_id: userId,
          app_scoped_id: idString(me.id),
          username: stringOrNull(me.username) ?? '',
          name: stringOrNull(me.name),
          account_type: stringOrNull(me.account_type),
          profile_picture_url: stringOrNull(me.profile_picture_url),
        };
      },
    );
  }
}
