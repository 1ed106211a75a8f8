import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * A user's clone has nothing beside it: no file the project runs may reach outside the repo for
 * a fixture (the Python service's dump, Fernet vectors and Meta's payloads live in test/fixtures/
 * and meta-simulator/fixtures/).
 */
describe('the repo is self-contained', () => {
  // The working tree as it runs: files not committed yet count, files deleted but not yet
  // committed do not (they cannot be read).
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((file) => existsSync(join(root, file)))
    .filter((file) => /^(src|test|scripts|bench|meta-simulator|\.ci|tools)\//.test(file))
    .filter((file) => /\.(ts|js|mjs|cjs|json|sh|go)$|^\.ci\//.test(file));

  it('should find the files it checks', () => {
    expect(tracked.length).toBeGreaterThan(100);
    expect(tracked).toContain('test/fixtures/reference/vectors/fernet-tokens.json');
  });

  it('should never read the folder beside the repo or /work, by string or by path segments', () => {
    // Built from parts, so that this file does not name what it looks for.
    const beside = ['sha', 'red'].join('');
    const outside = [
      new RegExp(`\\.\\./${beside}\\b`),
      new RegExp(`/${'wo'}rk/`),
      new RegExp(`['"]${beside}['"]\\s*[,)]`), // a path segment given to join()
    ];
    const offenders = tracked.flatMap((file) => {
      const text = readFileSync(join(root, file), 'utf8');
      return outside.filter((pattern) => pattern.test(text)).map((p) => `${file}: ${p.source}`);
    });
    expect(offenders).toEqual([]);
  });
});
