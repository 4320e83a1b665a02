#!/usr/bin/env node
// make-secrets: prints, as a YAML stream for `kubectl apply -f -`, the Secrets Mezite
// reads that no overlay generates:
//
//   mezite-token-pepper   pepper           token-service's MEZITE_TOKEN_PEPPER
//   mezite-session-pepper pepper           auth-server's MEZITE_SESSION_PEPPER
//   mezite-ca-kek         kek              ssh-ca's MEZITE_CA_KEK
//   mezite-audit-key      key              auth-server's MEZITE_AUDIT_KEY (keys the audit chain)
//   mezite-audit-signing-key key           auth-server's MEZITE_AUDIT_SIGNING_KEY (signs checkpoints)
//   mezite-database-auth  url              auth-server's DATABASE_URL (role mezite_auth)   ┐ with
//   mezite-database-token url              token-service's (role mezite_token)             ├ --database
//   mezite-database-sshca url              ssh-ca's (role mezite_sshca)                    ┘
//   auth-server-tls       ca.crt tls.crt tls.key   internal mTLS (and the public port)
//   token-service-tls     …
//   ssh-ca-tls            …
//
// Keys are 32 random bytes (base64), made once and kept in --dir with the internal CA
// (made by the same code as the quickstart's, packages/platform's ensureInternalPki), so
// running it again prints the same keys and reissues a leaf only when it must (missing
// SAN, under 30 days left). --dir holds the CA key and the KEK: keep it where you keep
// secrets, not in the cluster. With cert-manager issuing the certificates (the
// production overlay) pass --only=keys. Needs `pnpm build` (packages/platform/dist).
//
// Each service connects to PostgreSQL as its own role, owner of its schema alone. With
// --database=postgresql://HOST:PORT/DB (no user), the three database Secrets carry that
// server with each role and its password (kept in --dir too). --sql prints, instead of
// Secrets, the SQL that creates the roles with those passwords and gives each its schema
// (idempotent; it also takes over the schemas of a database from before roles): run it
// once, and again after an upgrade, as a superuser:
//
//   node deploy/scripts/make-secrets.mjs --namespace=mezite --public-host=mezite.example.com \
//     --database=postgresql://postgres:5432/mezite | kubectl apply -f -
//   node deploy/scripts/make-secrets.mjs --namespace=mezite --sql | psql -v ON_ERROR_STOP=1 "$SUPERUSER_URL"
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVICES = ['auth-server', 'token-service', 'ssh-ca'];
const KEYS = [
  { secret: 'mezite-token-pepper', key: 'pepper', field: 'token_pepper' },
  { secret: 'mezite-session-pepper', key: 'pepper', field: 'session_pepper' },
  { secret: 'mezite-ca-kek', key: 'kek', field: 'ca_kek' },
  { secret: 'mezite-audit-key', key: 'key', field: 'audit_key' },
  { secret: 'mezite-audit-signing-key', key: 'key', field: 'audit_signing_key' },
];
/** Each service's database role (packages/platform SERVICE_DATABASE_ROLES), its Secret and password field. */
const DATABASE = [
  { service: 'auth-server', secret: 'mezite-database-auth', field: 'auth_db_password' },
  { service: 'token-service', secret: 'mezite-database-token', field: 'token_db_password' },
  { service: 'ssh-ca', secret: 'mezite-database-sshca', field: 'sshca_db_password' },
];
const USAGE = `usage: make-secrets.mjs [--namespace=NS] [--dir=DIR] [--public-host=HOST]… [--only=keys|tls] [--database=URL] [--sql]
  --namespace    the namespace of the Secrets and of the services' DNS names (default mezite)
  --dir          where the keys and the internal CA are kept (default .mezite/k8s/<namespace>)
  --public-host  a name or IP clients dial the auth-server's gRPC port by (repeat for more)
  --only         keys: only the peppers, the KEK (and database Secrets); tls: only the certificates
  --database     postgresql://HOST:PORT/DB without a user: also print each service's database Secret
  --sql          print the SQL that creates the services' roles (run it as a superuser), no Secrets
`;

function fail(msg, code = 2) {
  process.stderr.write(`make-secrets: ${msg}\n`);
  process.exit(code);
}

let opts;
try {
  opts = parseArgs({
    options: {
      namespace: { type: 'string', default: 'mezite' },
      dir: { type: 'string' },
      'public-host': { type: 'string', multiple: true, default: [] },
      only: { type: 'string' },
      database: { type: 'string' },
      sql: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(`${err.message}\n${USAGE}`);
}
if (opts.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const ns = opts.namespace;
if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) fail(`--namespace must be a DNS label, got "${ns}"`);
if (opts.only !== undefined && opts.only !== 'keys' && opts.only !== 'tls') fail(`--only must be keys or tls, got "${opts.only}"`);
let database;
if (opts.database !== undefined) {
  try {
    database = new URL(opts.database);
  } catch {
    fail(`--database must be a URL such as postgresql://postgres:5432/mezite, got "${opts.database}"`);
  }
  if (!/^postgres(ql)?:$/.test(database.protocol) || !database.hostname || database.pathname.length < 2) fail('--database must be postgresql://HOST[:PORT]/DATABASE');
  if (database.username || database.password) fail('--database names no user or password: each service gets its own role');
}
const dir = resolve(opts.dir ?? join('.mezite', 'k8s', ns));
mkdirSync(dir, { recursive: true, mode: 0o700 });
chmodSync(dir, 0o700);

const labels = { 'app.kubernetes.io/part-of': 'mezite', 'app.kubernetes.io/managed-by': 'mezite-make-secrets' };
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const secret = (name, type, data) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns, labels }, type, data });
const out = [];

/** The platform build (roles' SQL, internal PKI); loaded only when needed. */
function platform() {
  const path = join(root, 'packages', 'platform', 'dist', 'index.js');
  if (!existsSync(path)) fail(`${path} is missing: run \`pnpm build\` first`, 1);
  return createRequire(import.meta.url)(path);
}

/** keys.json: made once, a missing or malformed key (re)generated. */
function loadKeys() {
  const file = join(dir, 'keys.json');
  const keys = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  let changed = false;
  for (const k of KEYS) {
    if (typeof keys[k.field] !== 'string' || Buffer.from(keys[k.field], 'base64').length !== 32) {
      keys[k.field] = randomBytes(32).toString('base64');
      changed = true;
    }
  }
  for (const d of DATABASE) {
    if (typeof keys[d.field] !== 'string' || !/^[A-Za-z0-9_-]{32}$/.test(keys[d.field])) {
      keys[d.field] = randomBytes(24).toString('base64url'); // goes into URLs: no escaping
      changed = true;
    }
  }
  if (changed) writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  return keys;
}

if (opts.sql) {
  const keys = loadKeys();
  const { SERVICE_DATABASE_ROLES, serviceRolesSql } = platform();
  const roles = DATABASE.map((d) => ({ ...SERVICE_DATABASE_ROLES[d.service], password: keys[d.field] }));
  process.stderr.write(`make-secrets: SQL for roles ${roles.map((r) => r.role).join(', ')}; run it as a superuser on Mezite's database\n`);
  process.stdout.write(serviceRolesSql(roles).map((s) => `${s};\n`).join(''));
  process.exit(0);
}

if (opts.only !== 'tls') {
  const keys = loadKeys();
  for (const k of KEYS) out.push(secret(k.secret, 'Opaque', { [k.key]: b64(keys[k.field]) }));
  if (database) {
    const { SERVICE_DATABASE_ROLES, serviceDatabaseUrl } = platform();
    for (const d of DATABASE) out.push(secret(d.secret, 'Opaque', { url: b64(serviceDatabaseUrl(database.toString(), SERVICE_DATABASE_ROLES[d.service].role, keys[d.field])) }));
  }
}

if (opts.only !== 'keys') {
  const { ensureInternalPki, spkiPin } = platform();
  let caPem;
  for (const svc of SERVICES) {
    // Internal clients dial `<svc>:<port>` with ssl_target_name_override = <svc>; the
    // namespace-qualified names are for clients in other namespaces (a mezd Pod).
    const hosts = [`${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`];
    if (svc === 'auth-server') hosts.push(...opts['public-host']);
    const pki = await ensureInternalPki({ dir: join(dir, 'pki'), names: [svc], hosts });
    const leaf = pki.leaf(svc);
    caPem = pki.caCertPem;
    out.push(secret(`${svc}-tls`, 'kubernetes.io/tls', { 'ca.crt': b64(pki.caCertPem), 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem) }));
  }
  process.stderr.write(`make-secrets: internal CA ${spkiPin(caPem)} (clients pin this: mezd --ca-pin)\n`);
}
process.stderr.write(`make-secrets: ${out.length} Secrets for namespace ${ns}; ${dir} holds their keys: keep it safe\n`);
process.stdout.write(out.map((o) => `---\n${JSON.stringify(o, null, 2)}\n`).join(''));
