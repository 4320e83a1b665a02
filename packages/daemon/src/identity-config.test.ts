import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConfigEnvironment, defaultDataDir, loadIdentityConfig } from './identity-config';

const user: ConfigEnvironment = { env: {}, isRoot: false, home: '/home/ci' };
const base = { 'auth-server': 'mezite.example.com:3025', destination: '/tmp/certs' };
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mezd-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('defaults: 20m interval, 1h TTL, daemon mode, per-user data dir', () => {
  expect(loadIdentityConfig(base, undefined, user)).toEqual({
    authServer: 'mezite.example.com:3025', destination: '/tmp/certs', renewalIntervalMs: 20 * 60_000, certificateTtlMs: 3600_000, oneShot: false, dataDir: '/home/ci/.local/state/mezite/identity',
  });
});

test.each([
  [{ isRoot: true, env: {}, home: '/root' }, '/var/lib/mezite/identity'],
  [{ isRoot: false, env: {}, home: '/home/ci' }, '/home/ci/.local/state/mezite/identity'],
  [{ isRoot: false, env: { XDG_STATE_HOME: '/xdg' }, home: '/home/ci' }, '/xdg/mezite/identity'],
  [{ isRoot: false, env: { XDG_STATE_HOME: 'relative' }, home: '/home/ci' }, '/home/ci/.local/state/mezite/identity'],
])('default data dir %#', (e, expected) => {
  expect(defaultDataDir(e)).toBe(expected);
});

test.each([
  ['renewal interval equal to the TTL', { 'renewal-interval': '1h' }, '--renewal-interval (1h) must be shorter than --certificate-ttl (1h), or the certificate expires before it is renewed'],
  ['renewal interval longer than the TTL', { 'renewal-interval': '30m', 'certificate-ttl': '15m' }, '--renewal-interval (30m) must be shorter than --certificate-ttl (15m)'],
  ['TTL under a minute', { 'certificate-ttl': '30s', 'renewal-interval': '10s' }, '--certificate-ttl (30s) must be at least 1m'],
  ['bad duration', { 'renewal-interval': '30' }, '--renewal-interval: invalid duration "30"'],
  ['URL as auth server', { 'auth-server': 'https://mezite.example.com' }, 'is a URL; give the gRPC address as host:port'],
  ['auth server without port', { 'auth-server': 'mezite.example.com' }, 'is not host:port'],
  ['malformed pin', { 'ca-pin': 'sha256:abc' }, '--ca-pin must be sha256: and 64 hex digits'],
])('refuses %s', (_name, flags, message) => {
  expect(() => loadIdentityConfig({ ...base, ...flags }, undefined, user)).toThrow(message);
});

test('--one-shot needs no renewal interval: a TTL shorter than the default interval is accepted', () => {
  expect(loadIdentityConfig({ ...base, 'certificate-ttl': '10m', 'one-shot': true }, undefined, user)).toMatchObject({ certificateTtlMs: 600_000, oneShot: true });
  // …also from a config file, and with an explicit interval longer than the TTL (it is not used).
  const p = file('one-shot.yaml', 'certificate-ttl: 10m\nrenewal-interval: 30m\none-shot: true\n');
  expect(loadIdentityConfig(base, p, user)).toMatchObject({ certificateTtlMs: 600_000, oneShot: true });
  // The daemon still needs it shorter than the TTL.
  expect(() => loadIdentityConfig({ ...base, 'certificate-ttl': '10m' }, undefined, user)).toThrow('--renewal-interval (20m) must be shorter than --certificate-ttl (10m)');
  expect(() => loadIdentityConfig({ ...base, 'certificate-ttl': '10m', 'one-shot': false }, undefined, user)).toThrow('--renewal-interval (20m) must be shorter');
});

test('names every problem at once', () => {
  expect(() => loadIdentityConfig({ 'renewal-interval': 'soon' }, undefined, user)).toThrow(/--auth-server is required.*; --renewal-interval/);
});

test('--destination defaults to <data-dir>/certs (/var/lib/mezite/identity/certs as root)', () => {
  expect(loadIdentityConfig({ 'auth-server': 'a:3025', 'data-dir': '/srv/state' }, undefined, user).destination).toBe('/srv/state/certs');
});

test('a YAML file supplies every key; flags win over the environment, which wins over the file', () => {
  const pin = `sha256:${'AB'.repeat(32)}`;
  const p = file('mezd.yaml', ['# mezd identity', 'auth-server: file.example.com:3025', 'join-token: tok-bot-from-file', 'destination: /srv/certs', 'renewal-interval: 10m', 'certificate-ttl: 30m', 'one-shot: true', 'data-dir: /srv/state', `ca-pin: ${pin}`, ''].join('\n'));
  expect(loadIdentityConfig({}, p, user)).toEqual({
    authServer: 'file.example.com:3025', joinToken: 'tok-bot-from-file', destination: '/srv/certs', renewalIntervalMs: 600_000, certificateTtlMs: 1_800_000, oneShot: true, dataDir: '/srv/state', caPin: pin.toLowerCase(),
  });
  const env = { ...user, env: { MEZITE_AUTH_SERVER: 'env.example.com:3025', MEZITE_JOIN_TOKEN: 'tok-bot-from-env' } };
  expect(loadIdentityConfig({ 'one-shot': false, 'renewal-interval': '5m' }, p, env)).toMatchObject({ authServer: 'env.example.com:3025', joinToken: 'tok-bot-from-env', renewalIntervalMs: 300_000, oneShot: false });
  expect(loadIdentityConfig({ 'auth-server': 'flag.example.com:3025' }, p, env)).toMatchObject({ authServer: 'flag.example.com:3025' });
});

test('a JSON file works too', () => {
  const p = file('mezd.json', JSON.stringify({ 'auth-server': '[::1]:3025', destination: 'rel/certs' }));
  expect(loadIdentityConfig({}, p, user)).toMatchObject({ authServer: '[::1]:3025', destination: join(process.cwd(), 'rel/certs') });
});

test.each([
  ['unknown key', 'auth_server: a:1\n', 'unknown key "auth_server" (known: auth-server, join-token'],
  ['bare number duration', 'renewal-interval: 30\n', 'renewal-interval needs a unit'],
  ['one-shot as text', 'one-shot: "yes"\n', 'one-shot must be true or false'],
  ['a list', '- a\n', 'must be a mapping'],
  ['duplicate keys', 'destination: a\ndestination: b\n', 'not valid YAML or JSON'],
])('refuses a config file with %s, naming the file', (_name, text, message) => {
  const p = file('bad.yaml', text);
  expect(() => loadIdentityConfig(base, p, user)).toThrow(`--config ${p}: `);
  expect(() => loadIdentityConfig(base, p, user)).toThrow(message);
});

test('a missing config file is named', () => {
  expect(() => loadIdentityConfig(base, join(dir, 'nope.yaml'), user)).toThrow(`--config ${join(dir, 'nope.yaml')}: cannot read it (ENOENT)`);
});

test('--join-method=github names a join-token resource; other methods and a missing name are refused', () => {
  expect(loadIdentityConfig({ ...base, 'join-method': 'github', 'join-token': 'gha-deploy' }, undefined, user)).toMatchObject({ joinMethod: 'github', joinToken: 'gha-deploy' });
  expect(loadIdentityConfig({ ...base, 'join-method': 'github', 'join-token': 'gha-deploy', 'join-audience': 'mezite-prod' }, undefined, user)).toMatchObject({ joinAudience: 'mezite-prod' });
  expect(() => loadIdentityConfig({ ...base, 'join-method': 'carrier-pigeon', 'join-token': 'x' }, undefined, user)).toThrow(/--join-method must be token, github, gitlab, kubernetes, bound-keypair/);
  expect(() => loadIdentityConfig({ ...base, 'join-method': 'github' }, undefined, user)).toThrow(/--join-method=github needs --join-token/);
});

test('gitlab reads the env var the job names, kubernetes the token file; each setting only with its method', () => {
  expect(loadIdentityConfig({ ...base, 'join-method': 'gitlab', 'join-token': 'gl' }, undefined, user)).toMatchObject({ joinMethod: 'gitlab', idTokenEnv: 'MEZITE_ID_TOKEN' });
  expect(loadIdentityConfig({ ...base, 'join-method': 'gitlab', 'join-token': 'gl', 'id-token-env': 'GITLAB_JWT' }, undefined, user)).toMatchObject({ idTokenEnv: 'GITLAB_JWT' });
  expect(loadIdentityConfig({ ...base, 'join-method': 'kubernetes', 'join-token': 'k' }, undefined, user)).toMatchObject({ joinMethod: 'kubernetes', idTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
  expect(() => loadIdentityConfig({ ...base, 'join-method': 'github', 'join-token': 'g', 'id-token-file': '/x' }, undefined, user)).toThrow(/--id-token-file is for --join-method=kubernetes/);
});

test('--registration-secret (or MEZITE_REGISTRATION_SECRET) is for --join-method=bound-keypair only', () => {
  const bk = { ...base, 'join-method': 'bound-keypair', 'join-token': 'host-01' };
  expect(loadIdentityConfig({ ...bk, 'registration-secret': 'bkr_x' }, undefined, user)).toMatchObject({ joinMethod: 'bound-keypair', registrationSecret: 'bkr_x' });
  expect(loadIdentityConfig(bk, undefined, { ...user, env: { MEZITE_REGISTRATION_SECRET: 'bkr_env' } })).toMatchObject({ registrationSecret: 'bkr_env' });
  expect(() => loadIdentityConfig({ ...base, 'join-method': 'github', 'join-token': 'g', 'registration-secret': 'bkr_x' }, undefined, user)).toThrow(/--registration-secret is for --join-method=bound-keypair/);
});
