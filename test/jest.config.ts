import type { Config } from 'jest';

/** One run: unit specs beside the code, e2e specs in test/, one embedded database for all. */
const config: Config = {
  rootDir: '..',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testMatch: [
    '<rootDir>/src/**/*.spec.ts',
    '<rootDir>/test/**/*.spec.ts',
    '<rootDir>/test/**/*.e2e-spec.ts',
  ],
  // test/reliability: its *.spec.ts (hostile input at 1 000, log check) run here; its heavy
  // *.e2e-spec.ts only in `npm run test:reliability`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/reliability/.*\\.e2e-spec\\.ts$'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  testEnvironment: 'node',
  setupFiles: ['reflect-metadata'],
  // The shared database, plus the query recorder's file and the index check after the run.
  globalSetup: '<rootDir>/test/reliability/support/jest-global-setup.ts',
  globalTeardown: '<rootDir>/test/reliability/support/jest-global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};

export default config;
