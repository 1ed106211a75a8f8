import type { Config } from 'jest';
import base from './jest.config';

/** The heavy suite (`npm run test:reliability`): hostile input at volume, faults, scale-out. */
const config: Config = {
  ...base,
  testMatch: ['<rootDir>/test/reliability/**/*.e2e-spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 600_000,
  maxWorkers: 1,
};

export default config;
