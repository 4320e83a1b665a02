import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CA_COMMON_NAME, commonName, ensureInternalPki, loadLeaf, spkiPin } from './index';

const DAY = 24 * 60 * 60 * 1000;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mezite-pki-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const names = ['token-service', 'auth-server'];

test('the CA is a P-256 self-signed pathlen-0 CA and each leaf verifies against it', async () => {
  const pki = await ensureInternalPki({ dir: join(dir, 'pki'), names, hosts: ['mezite.internal', '10.1.2.3'] });
  expect(statSync(pki.dir).mode & 0o777).toBe(0o700);
  const ca = new X509Certificate(pki.caCertPem);
  expect(ca.ca).toBe(true);
  expect(commonName(pki.caCertPem)).toBe(CA_COMMON_NAME);
  expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  expect(ca.verify(ca.publicKey)).toBe(true);
  const leaf = new X509Certificate(pki.leaf('token-service').certPem);
  expect(leaf.checkIssued(ca)).toBe(true);
  expect(leaf.verify(ca.publicKey)).toBe(true);
  expect(leaf.ca).toBe(false);
  expect(commonName(leaf.raw)).toBe('token-service');
  expect(leaf.subjectAltName).toContain('DNS:token-service');
  expect(leaf.subjectAltName).toContain('DNS:localhost');
  expect(leaf.subjectAltName).toContain('DNS:mezite.internal');
  expect(leaf.subjectAltName).toContain('IP Address:10.1.2.3');
  expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
  expect(leaf.checkIP('::1')).toBe('::1');
  expect(leaf.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
  expect(leaf.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
  const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
  expect(lifetime).toBe(365 * DAY);
  expect(Date.parse(leaf.validFrom)).toBeLessThan(Date.now() - 30_000);
  expect(() => pki.leaf('ssh-ca')).toThrow(/no leaf for "ssh-ca"/);
});

test('keys are PKCS#8 PEM with mode 0600, and loadLeaf reads them back', async () => {
  const pki = await ensureInternalPki({ dir, names });
  const leaf = pki.leaf('auth-server');
  for (const key of [join(dir, 'ca.key'), leaf.keyPath]) {
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  }
  expect(loadLeaf({ caCertPath: pki.caCertPath, certPath: leaf.certPath, keyPath: leaf.keyPath })).toEqual({ caCertPem: pki.caCertPem, certPem: leaf.certPem, keyPem: leaf.keyPem });
});

test('a second call is idempotent: same CA bytes, same leaves', async () => {
  const first = await ensureInternalPki({ dir, names, hosts: ['10.0.0.7'] });
  const before = Object.fromEntries(['ca.crt', 'ca.key', 'token-service.crt', 'token-service.key'].map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  const second = await ensureInternalPki({ dir, names, hosts: ['10.0.0.7'] });
  expect(second.caCertPem).toBe(first.caCertPem);
  expect(second.leaf('token-service')).toEqual(first.leaf('token-service'));
  for (const [f, text] of Object.entries(before)) expect(readFileSync(join(dir, f), 'utf8')).toBe(text);
});

test('a leaf is reissued when a host is missing, it nears expiry, its files are gone, or another CA signed it', async () => {
  const now = new Date();
  const pki = await ensureInternalPki({ dir, names: ['token-service'], now: () => now });
  const original = pki.leaf('token-service').certPem;
  const withHost = (await ensureInternalPki({ dir, names: ['token-service'], hosts: ['token.example'], now: () => now })).leaf('token-service');
  expect(withHost.certPem).not.toBe(original);
  expect(new X509Certificate(withHost.certPem).subjectAltName).toContain('DNS:token.example');
  const later = new Date(now.getTime() + 340 * DAY);
  const renewed = (await ensureInternalPki({ dir, names: ['token-service'], hosts: ['token.example'], now: () => later })).leaf('token-service');
  expect(renewed.certPem).not.toBe(withHost.certPem);
  expect(new Date(new X509Certificate(renewed.certPem).validTo).getTime()).toBeGreaterThan(later.getTime() + 300 * DAY);
  unlinkSync(renewed.keyPath);
  const rekeyed = (await ensureInternalPki({ dir, names: ['token-service'] })).leaf('token-service');
  expect(rekeyed.keyPem).not.toBe(renewed.keyPem);

  const other = mkdtempSync(join(tmpdir(), 'mezite-pki-other-'));
  try {
    const foreign = (await ensureInternalPki({ dir: other, names: ['token-service'] })).leaf('token-service');
    writeFileSync(rekeyed.certPath, foreign.certPem);
    writeFileSync(rekeyed.keyPath, foreign.keyPem);
    const fixed = await ensureInternalPki({ dir, names: ['token-service'] });
    expect(new X509Certificate(fixed.leaf('token-service').certPem).verify(new X509Certificate(fixed.caCertPem).publicKey)).toBe(true);
    expect(fixed.caCertPem).toBe(pki.caCertPem);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('a lost ca.crt is re-issued for the same key, so the pin holds; a lost ca.key is an error', async () => {
  const pki = await ensureInternalPki({ dir, names: ['auth-server'] });
  unlinkSync(pki.caCertPath);
  const again = await ensureInternalPki({ dir, names: ['auth-server'] });
  expect(spkiPin(again.caCertPem)).toBe(spkiPin(pki.caCertPem));
  expect(again.leaf('auth-server').certPem).toBe(pki.leaf('auth-server').certPem);
  unlinkSync(join(dir, 'ca.key'));
  await expect(ensureInternalPki({ dir, names: ['auth-server'] })).rejects.toThrow(/ca\.key is missing/);
});

test('spkiPin is sha256 over the SubjectPublicKeyInfo DER', async () => {
  const pki = await ensureInternalPki({ dir, names: [] });
  const spki = new X509Certificate(pki.caCertPem).publicKey.export({ type: 'spki', format: 'der' });
  expect(spkiPin(pki.caCertPem)).toBe(`sha256:${createHash('sha256').update(spki).digest('hex')}`);
  expect(spkiPin(pki.caCertPem)).toMatch(/^sha256:[0-9a-f]{64}$/);
});

test('loadLeaf names the missing file and rejects a key of another certificate', async () => {
  const pki = await ensureInternalPki({ dir, names });
  const a = pki.leaf('auth-server');
  const t = pki.leaf('token-service');
  const missing = join(dir, 'nope.key');
  expect(() => loadLeaf({ caCertPath: pki.caCertPath, certPath: a.certPath, keyPath: missing })).toThrow(`cannot read private key ${missing}: file is missing`);
  expect(() => loadLeaf({ caCertPath: pki.caCertPath, certPath: a.certPath, keyPath: t.keyPath })).toThrow(/does not belong/);
});

test('names that could escape the directory or clash with the CA are refused', async () => {
  await expect(ensureInternalPki({ dir, names: ['../etc'] })).rejects.toThrow(/invalid service name/);
  await expect(ensureInternalPki({ dir, names: ['ca'] })).rejects.toThrow(/invalid service name/);
  await expect(ensureInternalPki({ dir, names: ['x'], hosts: ['a b'] })).rejects.toThrow(/invalid host/);
});
