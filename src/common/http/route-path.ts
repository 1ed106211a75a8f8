import type { Request } from 'express';

/** Meta's webhook: signed, not bearer; its deliveries reach 1 MiB and it must never get a 429. */
export const WEBHOOK_PATH = '/webhook/instagram';
/** The load balancer's health check: never limited, or one noisy client takes the service out. */
export const HEALTH_PATH = '/health';

/**
 * The path as the router matches it (case-insensitive, trailing slash ignored), for middleware
 * that runs before routing: `/Health/` must be exempt exactly when it reaches the health route.
 */
export function routePath(req: Request): string {
  return req.path.toLowerCase().replace(/\/+$/, '') || '/';
}

export function isWebhookDelivery(req: Request): boolean {
  return req.method === 'POST' && routePath(req) === WEBHOOK_PATH;
}
