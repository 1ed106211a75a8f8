/** Largest webhook body accepted (Meta batches up to 1000 updates, far below this). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Largest body of every other route. The biggest valid one, a send with every field at its
 * maximum length and every character \u-escaped, is about 40 KB; past this it is not a dashboard
 * request, and reading a megabyte for each such request made floods cheap to send.
 */
export const MAX_DASHBOARD_BODY_BYTES = 64 * 1024;
