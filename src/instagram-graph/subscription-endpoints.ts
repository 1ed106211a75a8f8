import { Injectable } from '@nestjs/common';
import { idString, isObject } from './graph-json';
import { GraphTransport, pathSegment } from './graph-transport';
import { GraphAccount, SubscribedApp } from './instagram-graph.types';

/** The account's webhook subscription (`/{igId}/subscribed_apps`): which fields Meta delivers. */
@Injectable()
export class SubscriptionEndpoints {
  constructor(private readonly transport: GraphTransport) {}

  getSubscribedApps(acct: GraphAccount): Promise<SubscribedApp[]> {
    return this.transport.call(
      {
        method: 'GET',
        path: `/${pathSegment(acct.igId)}/subscribed_apps`,
        template: 'GET /{igId}/subscribed_apps',
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'read',
      },
      (body) => {
        if (!isObject(body) || !Array.isArray(body.data)) return null;
        return body.data.filter(isObject).map((app) => ({
          id: idString(app.id) ?? '',
          ...(typeof app.name === 'string' ? { name: app.name } : {}),
          subscribed_fields: Array.isArray(app.subscribed_fields)
            ? app.subscribed_fields.filter((f): f is string => typeof f === 'string')
            : [],
        }));
      },
    );
  }

  /**
   * Subscribes the account to webhook fields. Meta drops fields the app itself is not subscribed
   * to and still answers success, so read the result back with {@link getSubscribedApps}.
   */
  subscribeApp(acct: GraphAccount, fields: readonly string[]): Promise<boolean> {
    return this.transport.call(
      {
        method: 'POST',
        path: `/${pathSegment(acct.igId)}/subscribed_apps`,
        template: 'POST /{igId}/subscribed_apps',
        query: { subscribed_fields: fields.join(',') },
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'idempotent',
      },
      (body) => (isObject(body) ? body.success === true : null),
    );
  }

  unsubscribeApp(acct: GraphAccount): Promise<boolean> {
    return this.transport.call(
      {
        method: 'DELETE',
        path: `/${pathSegment(acct.igId)}/subscribed_apps`,
        template: 'DELETE /{igId}/subscribed_apps',
        token: acct.accessToken,
        igId: acct.igId,
        kind: 'idempotent',
      },
      (body) => (isObject(body) ? body.success === true : null),
    );
  }
}
