import { join } from 'node:path';
import { field, loadConfig, parse } from '@mezite/identity';
import { commonConfigSchema } from '@mezite/platform';

const dataDir = () => process.env.MEZITE_DATA_DIR ?? '.mezite';

/** auth-server configuration: flags, then MEZITE_* environment, then file. */
export function configSchema() {
  return {
    ...commonConfigSchema('auth-server', '127.0.0.1:3025'),
    httpAddr: field('MEZITE_HTTP_ADDR', parse.hostPort, '127.0.0.1:8080'),
    publicAddr: field('MEZITE_PUBLIC_ADDR', parse.string, '', 'the gRPC address clients dial (default localhost:<port>)'),
    tokenServiceTarget: field('MEZITE_TOKEN_SERVICE_TARGET', parse.hostPort, '127.0.0.1:3026'),
    sshCaTarget: field('MEZITE_SSH_CA_TARGET', parse.hostPort, '127.0.0.1:3027'),
    sessionPepper: field('MEZITE_SESSION_PEPPER', parse.key32, undefined, '32 random bytes, base64: keys the stored hashes of session secrets'),
    adminIdentityFile: field('MEZITE_ADMIN_IDENTITY_FILE', parse.string, join(dataDir(), 'admin-identity.json')),
    demoFixtures: field('MEZITE_DEMO_FIXTURES', parse.bool, false),
  };
}

export type AuthServerConfig = ReturnType<typeof loadAuthServerConfig>;

/** Loads and validates the configuration once, at start-up. */
export function loadAuthServerConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(configSchema(), { env, ...(env.MEZITE_CONFIG ? { file: env.MEZITE_CONFIG } : {}) });
}
