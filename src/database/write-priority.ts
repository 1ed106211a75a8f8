import { Injectable } from '@nestjs/common';

/** Longest a piece of bulk work waits for the urgent writes ahead of it (never a deadlock). */
const MAX_GIVE_WAY_MS = 1_000;

/**
 * Who writes first. SQLite has one writer and FerretDB hands it to whichever request comes
 * first, so a batch's bulk writes and the webhook's acknowledging inserts would take turns by
 * chance. Acknowledgements must not wait for processing: bulk work gives way before each piece
 * (`giveWay`), waiting until the urgent writes queued at that moment are written. It waits for
 * those only, not for later ones, so under a steady flood the two alternate and the backlog
 * still drains. On MongoDB the wait is a few milliseconds at most.
 */
@Injectable()
export class WritePriority {
  private urgentWritten: () => Promise<void> = () => Promise.resolve();

  /** The urgent writer (the webhook's group commit) says how to wait for what it holds now. */
  registerUrgent(written: () => Promise<void>): void {
    this.urgentWritten = written;
  }

  /** Before a piece of bulk work: the urgent writes queued now go first. */
  async giveWay(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.urgentWritten(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, MAX_GIVE_WAY_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}
