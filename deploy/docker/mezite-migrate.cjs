#!/usr/bin/env node
// mezite-migrate SERVICE… | all: applies the pending SQL migrations of the named services
// to DATABASE_URL and exits: 0 when every schema is up to date, 1 on a failure, 2 on
// usage. The same runMigrations each service runs at start-up (advisory-locked per
// schema, one transaction per run), without starting the service: the Kubernetes
// migration Job runs it, once per service, from that service's image, with that
// service's own DATABASE_URL (its role owns its schema alone, so one service's
// container cannot touch another's schema).
//
// Until the services have a migrate-only mode of their own, the schema of each service
// is named here too; test/deploy checks it against services/*/src/main.ts.
'use strict';
process.noDeprecation = true;
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
/** Service → the PostgreSQL schema its main.ts migrates. */
const SCHEMAS = { 'auth-server': 'auth', 'token-service': 'token', 'ssh-ca': 'sshca' };

async function main(argv) {
  const names = argv.includes('all') ? Object.keys(SCHEMAS) : argv;
  const unknown = names.filter((n) => !(n in SCHEMAS));
  if (names.length === 0 || unknown.length > 0 || argv.some((a) => a.startsWith('-'))) {
    process.stderr.write(`usage: mezite-migrate SERVICE… | all   (SERVICE: ${Object.keys(SCHEMAS).join(', ')})\n`);
    return 2;
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    process.stderr.write('mezite-migrate: invalid configuration: DATABASE_URL is required: a PostgreSQL URL such as postgresql://user@host:5432/mezite\n');
    return 2;
  }
  const { createLogger, runMigrations } = require(path.join(root, 'packages', 'platform'));
  const log = createLogger({ service: 'mezite-migrate' });
  for (const service of names) {
    const schema = SCHEMAS[service];
    const applied = await runMigrations({
      databaseUrl,
      schema,
      dir: path.join(root, 'services', service, 'migrations'),
      log: (m) => log.info(m, { schema }),
    });
    log.info(`${service}: schema ${schema} up to date`, { schema, applied: applied.length });
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`mezite-migrate: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
