import { Injectable } from '@nestjs/common';
import { idString, isObject, stringOrNull } from './graph-json';
import { GraphTransport, pathSegment } from './graph-transport';
import { GraphAccount, UserProfile } from './instagram-graph.types';
import { MetaApiError, ruleFor } from './meta-error';

const PROFILE_FIELDS =
  'name,username,profile_pic,follower_count,is_user_follow_business,is_business_follow_user,is_verified_user';

function numOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
function boolOrNull(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

/** Customer profiles (User Profile API): the names and pictures the dashboard shows. */
@Injectable()
export class ProfileEndpoints {
  constructor(private readonly transport: GraphTransport) {}

  /**
   * The customer's profile, or null when Meta will not show it: no consent yet (230, e.g. a
   * commenter who never wrote) or Meta's review bot (9010). Callers keep the contact without one.
   */
  async getUserProfile(acct: GraphAccount, igsid: string): Promise<UserProfile | null> {
    try {
      return await this.transport.call(
        {
          method: 'GET',
          path: `/${pathSegment(igsid)}`,
          template: 'GET /{igsid}',
          query: { fields: PROFILE_FIELDS },
          token: acct.accessToken,
          igId: acct.igId,
          kind: 'read',
        },
        (body) => {
          if (!isObject(body)) return null;
          return {
            id: idString(body.id) ?? igsid,
            name: stringOrNull(body.name),
            username: stringOrNull(body.username),
            profile_pic: stringOrNull(body.profile_pic),
            follower_count: numOrNull(body.follower_count),
            is_user_follow_business: boolOrNull(body.is_user_follow_business),
            is_business_follow_user: boolOrNull(body.is_business_follow_user),
            is_verified_user: boolOrNull(body.is_verified_user),
          };
        },
      );
    } catch (error) {
      if (error instanceof MetaApiError && error.metaCode !== null) {
        if (ruleFor(error.metaCode, error.metaSubcode).absent) return null;
      }
      throw error;
    }
  }
}
