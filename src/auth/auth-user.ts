/** The caller, as proven by the JWT. Every query of tenant data starts from `id`. */
export interface AuthUser {
  /** The token's `sub` claim: the Python service's `user_id`. */
  id: string;
  /** When the token ends (ms since epoch): a long-lived stream must not outlive it. */
  tokenExpiresAt?: number;
}
