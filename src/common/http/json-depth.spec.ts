import { jsonNestsDeeperThan } from './json-depth';

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

describe('jsonNestsDeeperThan', () => {
  it('should accept nesting up to the limit and refuse one level more', () => {
    expect(jsonNestsDeeperThan(Buffer.from(nested(32)), 32)).toBe(false);
    expect(jsonNestsDeeperThan(Buffer.from(nested(33)), 32)).toBe(true);
    expect(jsonNestsDeeperThan(Buffer.from(`{"a":${nested(31)}}`), 32)).toBe(false);
  });

  it('should not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ text: `${'['.repeat(500)}\\"${'{'.repeat(500)}` });
    expect(jsonNestsDeeperThan(Buffer.from(text), 2)).toBe(false);
  });

  it('should refuse a 100 000-level body in one pass', () => {
    expect(jsonNestsDeeperThan(Buffer.from(nested(100_000)), 32)).toBe(true);
  });
});
