import { KeyedSerialQueue } from './keyed-serial-queue';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('KeyedSerialQueue', () => {
  it('should run tasks of one key one after another, in order', async () => {
    const queue = new KeyedSerialQueue();
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const task = (name: string, ms: number) => async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await tick(ms);
      log.push(name);
      running -= 1;
      return name;
    };
    const results = await Promise.all([
      queue.run('a', task('first', 30)),
      queue.run('a', task('second', 1)),
      queue.run('a', task('third', 10)),
    ]);
    expect(results).toEqual(['first', 'second', 'third']);
    expect(log).toEqual(['first', 'second', 'third']);
    expect(maxRunning).toBe(1);
  });

  it('should run different keys concurrently', async () => {
    const queue = new KeyedSerialQueue();
    let running = 0;
    let maxRunning = 0;
    const task = async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await tick(20);
      running -= 1;
    };
    await Promise.all([queue.run('a', task), queue.run('b', task), queue.run('c', task)]);
    expect(maxRunning).toBe(3);
  });

  it('should keep going after a failed task and forget drained keys', async () => {
    const queue = new KeyedSerialQueue();
    const failed = queue.run('a', () => Promise.reject(new Error('boom')));
    const after = queue.run('a', () => Promise.resolve('after'));
    await expect(failed).rejects.toThrow('boom');
    await expect(after).resolves.toBe('after');
    await tick(0);
    expect(queue.size).toBe(0);
  });
});
