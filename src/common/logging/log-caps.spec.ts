import { capLogged, capString, MAX_LOGGED_STRING } from './log-caps';

describe('log caps', () => {
  it('should cut a long attacker-chosen id and say how much was cut', () => {
    const mid = 'm'.repeat(50_000);
    const cut = capString(mid);
    expect(cut.length).toBeLessThan(MAX_LOGGED_STRING + 40);
    expect(cut).toContain(`[${50_000 - MAX_LOGGED_STRING} more chars]`);
    expect(capString('aWdfZAG1faWQ')).toBe('aWdfZAG1faWQ');
  });

  it('should cut strings inside objects and arrays, and bound their size', () => {
    const logged = capLogged({
      mid: 'x'.repeat(10_000),
      ids: Array.from({ length: 1_000 }, (_, i) => `id-${i}`),
      nested: { a: { b: { c: { d: { e: 'deep' } } } } },
      count: 3,
    });
    const text = JSON.stringify(logged);
    expect(text.length).toBeLessThan(1_000);
    expect(logged).toMatchObject({ count: 3, nested: { a: { b: { c: '[object]' } } } });
    expect((logged as { ids: string[] }).ids).toHaveLength(21);
  });

  it('should leave errors to their serializer', () => {
    const error = new Error('boom');
    expect(capLogged({ err: error })).toEqual({ err: error });
  });
});
