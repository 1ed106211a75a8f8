import { Injectable } from '@nestjs/common';

/**
 * Meta allows 2 Conversations API calls per second per account (graph-api.md §5, §8) and answers
 * 613 past it. Import and reconciliation read many threads in a row, so their calls are spaced
 * here instead of hitting the limit and backing off. Per process: one instance works on an account
 * at a time (leases), and InstagramGraphService still backs off if Meta disagrees.
 */
const CALLS_PER_SECOND = 2;
/** Slack for clock and network jitter between our spacing and Meta's sliding window. */
const MARGIN_MS = 30;

@Injectable()
export class ConversationPacer {
  private readonly spacingMs = Math.ceil(1000 / CALLS_PER_SECOND) + MARGIN_MS;
  private readonly next = new Map<string, number>();

  /** Resolves when the account may make its next Conversations API call. */
  async turn(igId: string): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next.get(igId) ?? 0);
    this.next.set(igId, at + this.spacingMs);
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}
