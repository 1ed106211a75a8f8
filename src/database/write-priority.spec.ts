import { WritePriority } from './write-priority';

describe('WritePriority', () => {
  it('should let bulk work wait until the urgent writes queued before it are written', async () => {
    const priority = new WritePriority();
    let written!: () => void;
    const urgent = new Promise<void>((resolve) => (written = resolve));
    priority.registerUrgent(() => urgent);
    const order: string[] = [];

    const bulk = priority.giveWay().then(() => order.push('bulk piece'));
    await new Promise((resolve) => setImmediate(resolve));
    order.push('acknowledgements written');
    written();
    await bulk;

    expect(order).toEqual(['acknowledgements written', 'bulk piece']);
  });

  it('should go on after a second when the urgent writer never answers', async () => {
    jest.useFakeTimers();
    try {
      const priority = new WritePriority();
      priority.registerUrgent(() => new Promise<void>(() => undefined));
      let done = false;
      const bulk = priority.giveWay().then(() => (done = true));
      await jest.advanceTimersByTimeAsync(999);
      expect(done).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await bulk;
      expect(done).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  it('should not wait at all when nothing urgent is registered', async () => {
    await expect(new WritePriority().giveWay()).resolves.toBeUndefined();
  });
});
