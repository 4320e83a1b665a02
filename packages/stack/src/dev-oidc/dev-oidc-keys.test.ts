import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevOidcKeys } from './dev-oidc-keys';

describe('ensureDevOidcKeys', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'dev-oidc-keys-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('makes an RS256 signing key and a cookie key once (0600), then reuses them', () => {
    const path = join(dir, 'dev-oidc', 'keys.json');
    const first = ensureDevOidcKeys(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const [jwk] = first.jwks.keys;
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(createPrivateKey({ key: jwk as never, format: 'jwk' }).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(first.cookieKeys[0]).toMatch(/^[\w-]{43}$/);
    expect(ensureDevOidcKeys(path)).toEqual(first);
  });

  test('a file without keys is an error, not silently replaced', () => {
    const path = join(dir, 'keys.json');
    writeFileSync(path, '{}');
    expect(() => ensureDevOidcKeys(path)).toThrow(/no signing or cookie keys/);
  });
});
