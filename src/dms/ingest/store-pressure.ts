import { Injectable } from '@nestjs/common';

/**
 * Whether messages are being stored right now. Work that can wait (naming the DMs a thread
 * stored before its customer's profile arrived: two requests each) gives way to it, one write
 * at a time, so a backlog drains first on a database that serves one request after another.
 */
@Injectable()
export class StorePressure {
  private storing = 0;
  private waiters: (() => void)[] = [];

  async during<T>(work: () => Promise<T>): Promise<T> {
    this.storing += 1;
    try {
      return await work();
    } finally {
      this.storing -= 1;
      if (this.storing === 0) for (const resume of this.waiters.splice(0)) resume();
    }
  }

  /** Resolves at once when nothing is being stored, else when the current storing ends. */
  whenIdle(): Promise<void> {
    if (this.storing === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
