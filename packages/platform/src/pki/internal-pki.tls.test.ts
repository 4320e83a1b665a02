// The certificates in real handshakes: Node's tls with mutual authentication, as any
// internal port will do it, and a rejected client from a foreign CA.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { type InternalPki, commonName, ensureInternalPki } from './index';

let dir: string;
let pki: InternalPki;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mezite-pki-tls-'));
  pki = await ensureInternalPki({ dir, names: ['token-service', 'auth-server'] });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Starts an mTLS server as token-service that answers each client with its CN; `clientError` is the first failed handshake. */
async function startServer(): Promise<{ port: number; served: number; clientError: Promise<Error>; close: () => Promise<void> }> {
  const me = pki.leaf('token-service');
  let served = 0;
  const server = tls.createServer({ ca: pki.caCertPem, cert: me.certPem, key: me.keyPem, requestCert: true, rejectUnauthorized: true }, (socket) => {
    served++;
    const peer = socket.getPeerCertificate();
    socket.end(`hello ${peer.subject.CN} (${commonName(peer.raw)})`);
  });
  const clientError = new Promise<Error>((resolve) => server.once('tlsClientError', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, get served() { return served; }, clientError, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Connects with the given identity and returns what the server said, or the error. */
function call(port: number, opts: tls.ConnectionOptions): Promise<{ said: string; error?: Error }> {
  return new Promise((resolve) => {
    let said = '';
    const socket = tls.connect({ host: '127.0.0.1', port, ...opts });
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (said += d));
    socket.on('error', (error) => resolve({ said, error }));
    socket.on('close', () => resolve({ said }));
  });
}

test('mutual TLS between two leaves succeeds and the server sees the client CN', async () => {
  const server = await startServer();
  try {
    const me = pki.leaf('auth-server');
    const res = await call(server.port, { ca: pki.caCertPem, cert: me.certPem, key: me.keyPem });
    expect(res.error).toBeUndefined();
    expect(res.said).toBe('hello auth-server (auth-server)');
  } finally {
    await server.close();
  }
});

test('a client certificate from another CA is rejected', async () => {
  const server = await startServer();
  const otherDir = mkdtempSync(join(tmpdir(), 'mezite-pki-tls-other-'));
  try {
    const foreign = (await ensureInternalPki({ dir: otherDir, names: ['auth-server'] })).leaf('auth-server');
    const res = await call(server.port, { ca: pki.caCertPem, cert: foreign.certPem, key: foreign.keyPem });
    expect(res.said).toBe('');
    // Node's server drops the connection after the failed verification without naming
    // the reason ('socket hang up'); what matters is that the handler never ran.
    await expect(server.clientError).resolves.toHaveProperty('message');
    expect(server.served).toBe(0);
  } finally {
    await server.close();
    rmSync(otherDir, { recursive: true, force: true });
  }
});

test('the client checks the server name against the SANs', async () => {
  const server = await startServer();
  try {
    const me = pki.leaf('auth-server');
    const wrong = await call(server.port, { ca: pki.caCertPem, cert: me.certPem, key: me.keyPem, servername: 'auth-server' });
    expect(wrong.error?.message).toMatch(/does not match certificate's altnames/);
    const right = await call(server.port, { ca: pki.caCertPem, cert: me.certPem, key: me.keyPem, servername: 'token-service' });
    expect(right.error).toBeUndefined();
    expect(right.said).toBe('hello auth-server (auth-server)');
  } finally {
    await server.close();
  }
});
