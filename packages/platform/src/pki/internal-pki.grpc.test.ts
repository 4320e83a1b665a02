// The certificates with @grpc/grpc-js, the way the services use them: mTLS server
// credentials with client certificates required, and a client with its own leaf.
import { Server, ServerCredentials, credentials, makeGenericClientConstructor, status } from '@grpc/grpc-js';
import type { ServerUnaryCall, ServiceDefinition, ServiceError, sendUnaryData } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InternalPki, commonName, ensureInternalPki } from './index';

const raw = (b: Buffer) => b;
/** A hand-written one-method service on raw bytes: no generated code needed. */
const whoAmI: ServiceDefinition = {
  whoAmI: { path: '/mezite.test.v1.Test/WhoAmI', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
};
const Client = makeGenericClientConstructor(whoAmI, 'Test');

let dir: string;
let pki: InternalPki;
let server: Server;
let port: number;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mezite-pki-grpc-'));
  pki = await ensureInternalPki({ dir, names: ['token-service', 'auth-server'] });
  const me = pki.leaf('token-service');
  server = new Server();
  server.addService(whoAmI, {
    // The caller's CN, read from the TLS peer certificate: how a service names its caller.
    whoAmI: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
      const peer = call.getAuthContext().sslPeerCertificate;
      cb(null, Buffer.from(peer ? (commonName(peer.raw) ?? '?') : 'anonymous'));
    },
  });
  const creds = ServerCredentials.createSsl(Buffer.from(pki.caCertPem), [{ cert_chain: Buffer.from(me.certPem), private_key: Buffer.from(me.keyPem) }], true);
  port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function callWhoAmI(target: string, leaf: { certPem: string; keyPem: string }, caPem = pki.caCertPem, options: Record<string, string> = {}): Promise<string> {
  const client = new Client(target, credentials.createSsl(Buffer.from(caPem), Buffer.from(leaf.keyPem), Buffer.from(leaf.certPem)), options);
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest('/mezite.test.v1.Test/WhoAmI', raw, raw, Buffer.alloc(0), { deadline: Date.now() + 5000 }, (err: ServiceError | null, res?: Buffer) =>
      err ? reject(err) : resolve(res!.toString()),
    );
  }).finally(() => client.close());
}

test('a grpc-js client with its leaf calls a grpc-js mTLS server, which sees its CN', async () => {
  const me = pki.leaf('auth-server');
  await expect(callWhoAmI(`127.0.0.1:${port}`, me)).resolves.toBe('auth-server');
  await expect(callWhoAmI(`localhost:${port}`, me)).resolves.toBe('auth-server');
  // Dialing an address that is not in the SANs works when the expected name is given.
  await expect(callWhoAmI(`127.0.0.1:${port}`, me, pki.caCertPem, { 'grpc.ssl_target_name_override': 'token-service' })).resolves.toBe('auth-server');
});

test('grpc-js refuses a server name outside the SANs and a client of another CA', async () => {
  const me = pki.leaf('auth-server');
  await expect(callWhoAmI(`127.0.0.1:${port}`, me, pki.caCertPem, { 'grpc.ssl_target_name_override': 'auth-server' })).rejects.toMatchObject({ code: status.UNAVAILABLE });
  const otherDir = mkdtempSync(join(tmpdir(), 'mezite-pki-grpc-other-'));
  try {
    const foreign = (await ensureInternalPki({ dir: otherDir, names: ['auth-server'] })).leaf('auth-server');
    await expect(callWhoAmI(`127.0.0.1:${port}`, foreign)).rejects.toMatchObject({ code: status.UNAVAILABLE });
  } finally {
    rmSync(otherDir, { recursive: true, force: true });
  }
});
