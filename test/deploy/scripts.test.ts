// The two scripts the deployment runs: make-secrets.mjs (the Secrets no overlay makes)
// and mezite-migrate.cjs (the migration Job). Both load packages/platform's build, which
// `pnpm test` makes first.
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@mezite/platform';
import { Client } from 'pg';
import { EXTERNAL_SECRETS, MAKE_SECRETS, SERVICES } from './contract';
import { schemaErrors, unknownFieldErrors } from './k8s-schema';
import { parseYamlStream, repoRoot, type K8sObject } from './kustomize';

const platformBuild = join(repoRoot, 'packages', 'platform', 'dist', 'index.js');

beforeAll(() => {
  if (!existsSync(platformBuild)) throw new Error(`${platformBuild} is missing: run \`pnpm build\` (pnpm test does) before these tests`);
});

function makeSecrets(args: string[]): { objects: K8sObject[]; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'scripts', 'make-secrets.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`make-secrets ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { objects: parseYamlStream(r.stdout, 'make-secrets'), stderr: r.stderr };
}

function data(o: K8sObject | undefined, key: string): string {
  const v = (o?.data as Record<string, string> | undefined)?.[key];
  if (v === undefined) throw new Error(`no ${key} in ${o?.metadata.name}`);
  return Buffer.from(v, 'base64').toString('utf8');
}

describe('deploy/scripts/make-secrets.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-make-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const args = ['--dir', dir, '--namespace', 'mezite', '--public-host', 'mezite.example.com'];

  test('prints exactly the Secrets the dev overlay expects from it, valid for the API', () => {
    const { objects, stderr } = makeSecrets([...args, '--database', 'postgresql://postgres:5432/mezite']);
    const expected = { ...MAKE_SECRETS.keys, ...MAKE_SECRETS.database, ...MAKE_SECRETS.tls };
    expect(Object.fromEntries(objects.map((o) => [o.metadata.name, Object.keys(o.data as object).sort()]))).toEqual(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, [...v].sort()])));
    expect(Object.keys(EXTERNAL_SECRETS.dev).sort()).toEqual(Object.keys(expected).sort());
    expect(objects.every((o) => o.metadata.namespace === 'mezite')).toBe(true);
    expect(schemaErrors(objects)).toEqual([]);
    expect(unknownFieldErrors(objects)).toEqual([]);
    expect(stderr).toMatch(/internal CA sha256:[0-9a-f]{64}/);
  });

  test('keys are 32 random bytes, different from each other, kept owner-only, and the same on the next run', () => {
    const first = makeSecrets(args).objects;
    const keys = Object.entries(MAKE_SECRETS.keys).map(([name, [key]]) => data(first.find((o) => o.metadata.name === name), key as string));
    for (const k of keys) expect(Buffer.from(k, 'base64')).toHaveLength(32);
    expect(new Set(keys).size).toBe(keys.length);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'keys.json')).mode & 0o777).toBe(0o600);
    expect(makeSecrets(args).objects).toEqual(first);
    expect(makeSecrets([...args, '--only', 'keys']).objects.map((o) => o.metadata.name)).toEqual(Object.keys(MAKE_SECRETS.keys));
  });

  test("with --database, each service's URL names its own role and password; --sql creates those roles, no password in clear", () => {
    const objects = makeSecrets([...args, '--only', 'keys', '--database', 'postgresql://db.example:5432/mezite']).objects;
    const urls = Object.keys(MAKE_SECRETS.database).map((name) => new URL(data(objects.find((o) => o.metadata.name === name), 'url')));
    expect(urls.map((u) => `${u.username}@${u.host}${u.pathname}`)).toEqual(['mezite_auth@db.example:5432/mezite', 'mezite_token@db.example:5432/mezite', 'mezite_sshca@db.example:5432/mezite']);
    const passwords = urls.map((u) => decodeURIComponent(u.password));
    expect(new Set(passwords).size).toBe(3);
    for (const p of passwords) expect(p).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // Kept: the same URLs on the next run.
    expect(makeSecrets([...args, '--only', 'keys', '--database', 'postgresql://db.example:5432/mezite']).objects).toEqual(objects);
    const sql = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'scripts', 'make-secrets.mjs'), ...args, '--sql'], { encoding: 'utf8' });
    expect(sql.status).toBe(0);
    for (const role of ['mezite_auth', 'mezite_token', 'mezite_sshca']) expect(sql.stdout).toContain(`CREATE SCHEMA IF NOT EXISTS ${role.replace('mezite_', '')} AUTHORIZATION ${role}`);
    for (const p of passwords) expect(sql.stdout).not.toContain(p);
    expect(sql.stdout.match(/PASSWORD 'SCRAM-SHA-256\$4096:/g)).toHaveLength(3);
    for (const bad of [['--database', 'postgresql://mezite:pw@db/mezite'], ['--database', 'mysql://db/mezite'], ['--database', 'postgresql://db']]) {
      const r = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'scripts', 'make-secrets.mjs'), '--dir', dir, ...bad], { encoding: 'utf8' });
      expect([bad[1], r.status, r.stdout]).toEqual([bad[1], 2, '']);
    }
  });

  test.each(SERVICES.map((s) => s.name))('%s-tls: a leaf of the internal CA for mTLS, with the names clients dial', (name) => {
    const secret = makeSecrets(args).objects.find((o) => o.metadata.name === `${name}-tls`);
    expect(secret?.type).toBe('kubernetes.io/tls');
    const ca = new X509Certificate(data(secret, 'ca.crt'));
    const leaf = new X509Certificate(data(secret, 'tls.crt'));
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    const key = createPublicKey(createPrivateKey(data(secret, 'tls.key'))).export({ type: 'spki', format: 'der' });
    expect(key.equals(leaf.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    const sans = (leaf.subjectAltName ?? '').split(', ');
    // ssl_target_name_override = the service name; other namespaces use the FQDN.
    expect(sans).toEqual(expect.arrayContaining([`DNS:${name}`, `DNS:${name}.mezite.svc`, `DNS:${name}.mezite.svc.cluster.local`, 'DNS:localhost']));
    // Only the auth-server answers to the public name: clients trust the whole internal CA.
    expect(sans.includes('DNS:mezite.example.com')).toBe(name === 'auth-server');
    expect(leaf.keyUsage ?? []).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // serverAuth, clientAuth
  });

  test('refuses bad arguments with a usage line', () => {
    for (const bad of [['--namespace', 'Not_A_Label'], ['--only', 'everything'], ['--bogus']]) {
      const r = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'scripts', 'make-secrets.mjs'), '--dir', dir, ...bad], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
    }
  });
});

describe('deploy/docker/mezite-migrate.cjs', () => {
  const script = join(repoRoot, 'deploy', 'docker', 'mezite-migrate.cjs');
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const migrate = (args: string[], env: NodeJS.ProcessEnv = { DATABASE_URL: db.url }) =>
    spawnSync(process.execPath, [script, ...args], { cwd: tmpdir(), encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH, ...env } });

  test("names the schema each service's main.ts migrates", () => {
    const text = readFileSync(script, 'utf8');
    for (const { name, schema } of SERVICES) {
      expect(text).toContain(`'${name}': '${schema}'`);
      expect(readFileSync(join(repoRoot, 'services', name, 'src', 'main.ts'), 'utf8')).toMatch(new RegExp(`runMigrations\\(\\{[^}]*schema: '${schema}'`));
    }
  });

  test('applies every service migrations once, then finds nothing to do', async () => {
    const first = migrate(['all']);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      for (const { name, schema } of SERVICES) {
        const files = readdirSync(join(repoRoot, 'services', name, 'migrations')).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f));
        const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.mezite_migrations`);
        expect(`${schema}: ${rows[0]?.n}`).toBe(`${schema}: ${files.length}`);
      }
    } finally {
      await c.end();
    }
    const again = migrate(['token-service', 'ssh-ca']);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('token-service: schema token up to date');
    expect(again.stdout).not.toContain('applied migration');
  });

  test("after make-secrets --sql, each Job container migrates its own service's schema with its role, and no other", async () => {
    const fresh = await createTestDatabase();
    const keysDir = mkdtempSync(join(tmpdir(), 'mezite-roles-'));
    const c = new Client({ connectionString: fresh.url });
    try {
      const sql = spawnSync(process.execPath, [join(repoRoot, 'deploy', 'scripts', 'make-secrets.mjs'), '--dir', keysDir, '--sql'], { encoding: 'utf8' });
      expect(sql.status).toBe(0);
      await c.connect();
      await c.query(sql.stdout); // as the superuser, as the operator's psql would
      const base = new URL(fresh.url);
      const secrets = parseYamlStream(spawnSync(process.execPath, [join(repoRoot, 'deploy', 'scripts', 'make-secrets.mjs'), '--dir', keysDir, '--only', 'keys', '--database', `postgresql://${base.host}${base.pathname}`], { encoding: 'utf8' }).stdout, 'make-secrets');
      const urlOf = (name: string) => data(secrets.find((o) => o.metadata.name === name), 'url');
      const own = { 'auth-server': urlOf('mezite-database-auth'), 'token-service': urlOf('mezite-database-token'), 'ssh-ca': urlOf('mezite-database-sshca') };
      for (const { name, schema } of SERVICES) {
        const r = migrate([name], { DATABASE_URL: own[name] });
        expect([name, r.status, r.stderr]).toEqual([name, 0, '']);
        const { rows } = await c.query<{ o: string }>('SELECT pg_get_userbyid(nspowner) AS o FROM pg_namespace WHERE nspname = $1', [schema]);
        expect(rows[0]?.o).toBe(`mezite_${schema}`);
      }
      // The auth-server's container cannot touch the CA keys' schema.
      const cross = migrate(['ssh-ca'], { DATABASE_URL: own['auth-server'] });
      expect(cross.status).toBe(1);
      expect(cross.stderr).toMatch(/permission denied/);
    } finally {
      await c.end();
      await fresh.drop();
      rmSync(keysDir, { recursive: true, force: true });
    }
  });

  test('usage mistakes exit 2 and touch nothing', () => {
    expect(migrate([]).status).toBe(2);
    expect(migrate(['billing']).status).toBe(2);
    const noUrl = migrate(['all'], {});
    expect(noUrl.status).toBe(2);
    expect(noUrl.stderr).toContain('DATABASE_URL is required');
  });

  test('an unreachable database fails with exit 1 and one line', () => {
    const r = migrate(['auth-server'], { DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mezite-migrate: /);
  });

  test('is executable like the bin/ commands', () => {
    expect(readFileSync(script, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(script).mode & 0o111).toBe(0o111);
  });
});
