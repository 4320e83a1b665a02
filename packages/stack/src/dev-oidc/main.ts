import { join, resolve } from 'node:path';
import { field, loadConfig, parse } from '@mezite/identity';
import { createLogger, onShutdown } from '@mezite/platform';
import { startDevOidcProvider } from './dev-oidc-provider';

/** The development provider's configuration (environment only: it runs under the stack). */
function configSchema() {
  return {
    addr: field('MEZITE_DEV_OIDC_ADDR', parse.hostPort, '127.0.0.1:5556'),
    issuer: field('MEZITE_DEV_OIDC_ISSUER', parse.url, '', 'the issuer URL browsers and the auth-server use; default http://<addr>'),
    dataDir: field('MEZITE_DATA_DIR', parse.string, '.mezite'),
  };
}

/** `node dist/dev-oidc/main.js`: the quickstart's development OpenID Provider as a process of its own. */
async function main(): Promise<void> {
  const log = createLogger({ service: 'dev-oidc' });
  const cfg = loadConfig(configSchema());
  const i = cfg.addr.lastIndexOf(':');
  const host = cfg.addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const p = await startDevOidcProvider({
    host,
    port: Number(cfg.addr.slice(i + 1)),
    ...(cfg.issuer ? { issuer: cfg.issuer.replace(/\/$/, '') } : {}),
    keysFile: join(resolve(cfg.dataDir), 'dev-oidc', 'keys.json'),
    log: (msg, fields) => log.info(msg, fields),
  });
  log.info('listening', { issuer: p.issuer, port: p.port });
  onShutdown(log, () => p.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`dev-oidc: ${(err as Error).message}\n`);
  process.exit(1);
});
