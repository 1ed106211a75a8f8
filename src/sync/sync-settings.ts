import type { AppConfig } from '../config/app-config';
import { Environment } from '../config/env';

/** The validated SYNC_* variables (src/config/env.ts), read once. */
export interface SyncSettings {
  importOnConnect: boolean;
  reconcileEnabled: boolean;
  reconcileIntervalMs: number;
  /** Reconciliation leaves messages younger than this to the webhook. */
  reconcileGraceMs: number;
}

export const SYNC_SETTINGS = Symbol('SYNC_SETTINGS');

export function syncSettings(config: AppConfig): SyncSettings {
  // Background work is off by default in tests, which start it themselves (like token refresh).
  const notTest = config.get('ENVIRONMENT', { infer: true }) !== Environment.Test;
  return {
    importOnConnect: config.get('SYNC_IMPORT_ON_CONNECT', { infer: true }) ?? notTest,
    reconcileEnabled: config.get('SYNC_RECONCILE_ENABLED', { infer: true }) ?? notTest,
    reconcileIntervalMs: config.get('SYNC_RECONCILE_INTERVAL_MS', { infer: true }),
    reconcileGraceMs: config.get('SYNC_RECONCILE_GRACE_MS', { infer: true }),
  };
}
