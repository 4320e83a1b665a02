import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureInternalPki, spkiPin } from '@mezite/platform';
import { discover, resolveTarget } from './connection';

/** The certificate of a fresh CA (the kind the auth server publishes). */
async function caPem(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mezctl-ca-'));
  try {
    return (await ensureInternalPki({ dir, names: [] })).caCertPem;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fetch that serves one discovery document and records what it was asked. */
function fakeFetch(doc: unknown) {
  const asked: string[] = [];
  const f = (async (url: URL | string) => {
    asked.push(String(url));
    return new Response(JSON.stringify(doc), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { f, asked };
}

describe('discover: whose CA the CLI believes', () => {
  let ours: string;
  let theirs: string;
  beforeAll(async () => {
    ours = await caPem();
    theirs = await caPem();
  });

  test('http on a network with nothing to check the CA against is refused before anything is sent', async () => {
    const { f, asked } = fakeFetch({ auth_server: 'auth.example.com:3025', ca_cert: theirs });
    await expect(discover('http://auth.example.com:8080', { fetch: f })).rejects.toMatchObject({ code: 'Unauthenticated', message: expect.stringContaining('http://auth.example.com:8080 is plain http on a network') });
    expect(asked).toEqual([]);
  });

  test('http on a network: an attacker-supplied CA is refused against the pin, ours is believed', async () => {
    const forged = fakeFetch({ auth_server: 'evil.example.com:3025', ca_cert: theirs });
    await expect(discover('http://auth.example.com:8080', { fetch: forged.f, caPin: spkiPin(ours) })).rejects.toMatchObject({ code: 'Unauthenticated', message: expect.stringContaining('does not match MEZITE_CA_PIN') });
    const real = fakeFetch({ auth_server: 'auth.example.com:3025', ca_cert: ours });
    await expect(discover('http://auth.example.com:8080', { fetch: real.f, caPin: spkiPin(ours).toUpperCase().replace('SHA256', 'sha256') })).resolves.toEqual({ auth_server: 'auth.example.com:3025', ca_cert: ours });
  });

  test('http on a network: a CA the client already trusts (saved session or identity) needs no pin; another is refused', async () => {
    const real = fakeFetch({ auth_server: 'auth.example.com:3025', ca_cert: ours });
    await expect(discover('http://auth.example.com:8080', { fetch: real.f, known: [ours] })).resolves.toMatchObject({ ca_cert: ours });
    const forged = fakeFetch({ auth_server: 'auth.example.com:3025', ca_cert: theirs });
    await expect(discover('http://auth.example.com:8080', { fetch: forged.f, known: [ours] })).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('https and loopback http are believed; a pin is still checked there', async () => {
    for (const url of ['https://auth.example.com', 'http://localhost:8080', 'http://127.0.0.1:8080', 'http://[::1]:8080']) {
      await expect(discover(url, { fetch: fakeFetch({ auth_server: 'a:1', ca_cert: theirs }).f })).resolves.toMatchObject({ ca_cert: theirs });
      await expect(discover(url, { fetch: fakeFetch({ auth_server: 'a:1', ca_cert: theirs }).f, caPin: spkiPin(ours) })).rejects.toMatchObject({ code: 'Unauthenticated' });
    }
  });

  test('a malformed pin, URL or document is a clear error', async () => {
    await expect(discover('https://a', { caPin: 'sha256:xyz' })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringContaining('MEZITE_CA_PIN') });
    await expect(discover('ftp://a')).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(discover('https://a', { fetch: fakeFetch({ auth_server: 'a:1', ca_cert: 'not a cert' }).f })).rejects.toMatchObject({ code: 'Unavailable', message: expect.stringContaining('ca_cert is not a certificate') });
  });

  test('resolveTarget: PLEXSPHERE_URL over http on a network never yields a target with a credential', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mezctl-discover-'));
    try {
      await expect(resolveTarget({}, { HOME: dir, MEZITE_DATA_DIR: join(dir, 'none'), PLEXSPHERE_URL: 'http://auth.example.invalid:8080' }, dir)).rejects.toMatchObject({ code: 'Unauthenticated' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
