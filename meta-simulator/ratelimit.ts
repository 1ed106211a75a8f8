import { metaStringify } from './serialize';

/**
 * Sliding-window call counters behind Meta's rate-limit errors and usage headers
 * (graph-api.md §8). Usage is reported as percentages of the budget, like Meta's headers.
 */

export interface Budget {
  callsPerWindow: number;
  windowMs: number;
  /** Error code past the budget: 613 (subcode 2534040, default) or 80002 (Instagram BUC). */
  code?: 613 | 80002 | 4 | 17;
}

class Window {
  private hits: number[] = [];
  count(now: number, windowMs: number): number {
    const from = now - windowMs;
    while (this.hits.length && this.hits[0] <= from) this.hits.shift();
    return this.hits.length;
  }
  add(now: number): void {
    this.hits.push(now);
  }
  oldest(): number | undefined {
    return this.hits[0];
  }
}

/** Nominal budget used only to compute header percentages when no limit is configured. */
const NOMINAL: Budget = { callsPerWindow: 100_000, windowMs: 3_600_000 };

export interface Usage {
  pct: number;
  regainMinutes: number;
}

export class RateLimiter {
  private readonly accountBudgets = new Map<string, Budget>();
  private appBudget?: Budget;
  private readonly windows = new Map<string, Window>();

  setAccountBudget(igId: string, budget: Budget | undefined): void {
    if (budget) this.accountBudgets.set(igId, budget);
    else this.accountBudgets.delete(igId);
  }

  setAppBudget(budget: Budget | undefined): void {
    this.appBudget = budget;
  }

  private window(key: string): Window {
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = new Window()));
    return w;
  }

  /** Counts one call against the account and the app. Returns the error code to answer with
   * when a configured budget is exhausted (the rejected call is not counted). */
  admit(igId: string | undefined, now: number): number | undefined {
    const app = this.appBudget;
    if (app && this.window('app').count(now, app.windowMs) >= app.callsPerWindow)
      return app.code ?? 4;
    const budget = igId ? this.accountBudgets.get(igId) : undefined;
    if (
      igId &&
      budget &&
      this.window(`acct:${igId}`).count(now, budget.windowMs) >= budget.callsPerWindow
    ) {
      return budget.code ?? 613;
    }
    this.window('app').add(now);
    if (igId) this.window(`acct:${igId}`).add(now);
    return undefined;
  }

  /** Fixed per-feature limits (send 100/s, media 10/s, conversations 2/s, private replies 750/h). */
  hit(key: string, limit: number, windowMs: number, now: number): boolean {
    if (limit <= 0) return true;
    const w = this.window(key);
    if (w.count(now, windowMs) >= limit) return false;
    w.add(now);
    return true;
  }

  usage(key: string, budget: Budget, now: number): Usage {
    const w = this.window(key);
    const used = w.count(now, budget.windowMs);
    const pct = Math.round((used / budget.callsPerWindow) * 100);
    const oldest = w.oldest();
    const regainMinutes =
      used >= budget.callsPerWindow && oldest !== undefined
        ? Math.max(1, Math.ceil((oldest + budget.windowMs - now) / 60_000))
        : 0;
    return { pct, regainMinutes };
  }

  headers(igId: string | undefined, now: number): Record<string, string> {
    const app = this.usage('app', this.appBudget ?? NOMINAL, now);
    const out: Record<string, string> = {
      'x-app-usage': metaStringify({
        call_count: app.pct,
        total_cputime: Math.round(app.pct * 0.4),
        total_time: Math.round(app.pct * 0.6),
      }),
    };
    if (igId) {
      const u = this.usage(`acct:${igId}`, this.accountBudgets.get(igId) ?? NOMINAL, now);
      out['x-business-use-case-usage'] = metaStringify({
        [igId]: [
          {
            type: 'instagram',
            call_count: u.pct,
            total_cputime: Math.round(u.pct * 0.4),
            total_time: Math.round(u.pct * 0.6),
            estimated_time_to_regain_access: u.regainMinutes,
          },
        ],
      });
    }
    return out;
  }
}
