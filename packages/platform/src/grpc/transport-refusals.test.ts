import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type ClientSessionOptions, type SecureClientSessionOptions } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { ServerCredentials, status } from '@grpc/grpc-js';
import { sshcav1 } from '@mezite/proto';
import { ServerError } from 'nice-grpc-common';
import { nullLogger } from '../log/logger';
import { ensureInternalPki, type InternalPki } from '../pki';
import { internalServerCredentials } from './credentials';
import { createGrpcServer, type GrpcServer } from './server';

const LIST = '/mezite.sshca.v1.SshCaService/ListCertAuthorities';
const SIGN = '/mezite.sshca.v1.SshCaService/SignCertificate';
const HEALTH = '/grpc.health.v1.Health/Check';
/** What no refusal may carry: a stack frame, a path, an error class, the hostile value echoed back. */
const LEAK = /\n\s+at |\.(?:js|ts):\d+|node_modules|Error\b|soon/;

const implementation = {
  listCertAuthorities: async () => ({ certAuthorities: [] }),
  // A handler's own INTERNAL with grpc-js's wording must stay INTERNAL: only grpc-js's refusals are mapped.
  signCertificate: async (): Promise<never> => {
    throw new ServerError(status.INTERNAL, 'Failed to decompress message');
  },
  rotateCertAuthority: async () => ({ certAuthorities: [] }),
  generateKrl: async () => ({ krl: Buffer.alloc(0), revokedCertificates: 0 }),
  getIssuedCertificate: async () => ({ serial: '1', type: 1, keyId: '', subjectId: '', tenantId: '', caFingerprint: '' }),
};

function frame(flag: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h[0] = flag;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

interface Answer {
  grpcStatus?: number;
  grpcMessage: string;
}

/** One gRPC request over a raw HTTP/2 stream, so framing and headers are the test's. */
async function rawH2(url: string, path: string, body: Buffer, headers: Record<string, string>, tls?: SecureClientSessionOptions): Promise<Answer> {
  const session = connect(url, (tls ?? {}) as ClientSessionOptions);
  try {
    return await new Promise<Answer>((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
      let head: Record<string, unknown> = {};
      let trail: Record<string, unknown> = {};
      req.on('response', (h) => (head = h));
      req.on('trailers', (t) => (trail = t));
      req.on('data', () => undefined);
      req.on('error', reject);
      req.on('close', () => {
        const st = head['grpc-status'] ?? trail['grpc-status'];
        const msg = String(head['grpc-message'] ?? trail['grpc-message'] ?? '');
        resolve({ ...(st !== undefined ? { grpcStatus: Number(st) } : {}), grpcMessage: decodeURIComponent(msg) });
      });
      req.end(body);
    });
  } finally {
    session.destroy();
  }
}

const EMPTY = frame(0, Buffer.alloc(0));

/** Requests grpc-js itself refused with INTERNAL before any Mezite code ran. */
const refused: Array<[string, string, Buffer, Record<string, string>, RegExp]> = [
  ['a corrupt gzip payload', LIST, frame(1, Buffer.from([1, 2, 3])), { 'grpc-encoding': 'gzip' }, /not valid data of its grpc-encoding/],
  ['a corrupt deflate payload', LIST, frame(1, Buffer.from([1, 2, 3])), { 'grpc-encoding': 'deflate' }, /not valid data of its grpc-encoding/],
  ['a truncated gzip payload', LIST, frame(1, gzipSync(Buffer.from([0x08, 0x01])).subarray(0, 12)), { 'grpc-encoding': 'gzip' }, /not valid data of its grpc-encoding/],
  ['grpc-timeout "soon"', LIST, EMPTY, { 'grpc-timeout': 'soon' }, /malformed grpc-timeout header/],
  ['grpc-timeout without a unit', LIST, EMPTY, { 'grpc-timeout': '100' }, /malformed grpc-timeout header/],
  ['an empty grpc-timeout', LIST, EMPTY, { 'grpc-timeout': '' }, /malformed grpc-timeout header/],
  ['a health check that does not decode (no decode guard there)', HEALTH, frame(0, Buffer.from([0x0f])), {}, /malformed request message/],
];

/** Requests whose answer must not change. */
const unchanged: Array<[string, string, Buffer, Record<string, string>, number]> = [
  ['a valid gzip message', LIST, frame(1, gzipSync(Buffer.from([0x08, 0x01]))), { 'grpc-encoding': 'gzip' }, status.OK],
  ['a valid deflate message', LIST, frame(1, deflateSync(Buffer.alloc(0))), { 'grpc-encoding': 'deflate' }, status.OK],
  ['a valid grpc-timeout', LIST, EMPTY, { 'grpc-timeout': '5S' }, status.OK],
  ['a gzip bomb (2 MiB of zeros, limit 1 MiB)', LIST, frame(1, gzipSync(Buffer.alloc(2 * 1024 * 1024))), { 'grpc-encoding': 'gzip' }, status.RESOURCE_EXHAUSTED],
  ['an unsupported grpc-encoding', LIST, frame(1, Buffer.from([1])), { 'grpc-encoding': 'br' }, status.UNIMPLEMENTED],
  ["a handler's own INTERNAL in grpc-js's words", SIGN, EMPTY, {}, status.INTERNAL],
];

describe('hostile transport input is INVALID_ARGUMENT, never grpc-js INTERNAL (every server createGrpcServer makes)', () => {
  let server: GrpcServer;
  let url: string;
  let healthUrl: string;
  beforeAll(async () => {
    server = createGrpcServer({ name: 'mezite.sshca.v1.SshCaService', logger: nullLogger });
    server.services.add(sshcav1.SshCaServiceDefinition, implementation);
    url = `http://127.0.0.1:${await server.listen('127.0.0.1:0', ServerCredentials.createInsecure())}`;
    healthUrl = `http://127.0.0.1:${await server.listenHealth('127.0.0.1:0')}`;
  });
  afterAll(() => server.shutdown(100));

  test.each(refused)('%s is INVALID_ARGUMENT with a clear message and nothing leaked', async (_what, path, body, headers, message) => {
    const r = await rawH2(url, path, body, headers);
    expect(r).toEqual({ grpcStatus: status.INVALID_ARGUMENT, grpcMessage: expect.stringMatching(message) });
    expect(r.grpcMessage).not.toMatch(LEAK);
  });

  test.each(unchanged)('%s keeps its status', async (_what, path, body, headers, code) => {
    const r = await rawH2(url, path, body, headers);
    expect(r.grpcStatus).toBe(code);
  });

  test('the plaintext health listener maps them too', async () => {
    const codes = [];
    for (const [, , body, headers] of refused) codes.push((await rawH2(healthUrl, HEALTH, body, headers)).grpcStatus);
    expect(codes).toEqual(refused.map(() => status.INVALID_ARGUMENT));
  });
});

describe('an internal (mTLS) port with allowed callers maps them as well', () => {
  let dir: string;
  let pki: InternalPki;
  let server: GrpcServer;
  let port: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-refusals-'));
    pki = await ensureInternalPki({ dir, names: ['ssh-ca', 'auth-server'] });
    server = createGrpcServer({ name: 'mezite.sshca.v1.SshCaService', logger: nullLogger, allowedCallers: ['auth-server'] });
    server.services.add(sshcav1.SshCaServiceDefinition, implementation);
    const me = pki.leaf('ssh-ca');
    port = await server.listen('127.0.0.1:0', internalServerCredentials({ caCertPem: pki.caCertPem, certPem: me.certPem, keyPem: me.keyPem }));
  });
  afterAll(async () => {
    await server.shutdown(100);
    rmSync(dir, { recursive: true, force: true });
  });

  test.each(refused.filter(([, path]) => path === LIST))('%s from the allowed caller is INVALID_ARGUMENT', async (_what, path, body, headers, message) => {
    const me = pki.leaf('auth-server');
    const r = await rawH2(`https://127.0.0.1:${port}`, path, body, headers, { ca: pki.caCertPem, cert: me.certPem, key: me.keyPem });
    expect(r).toEqual({ grpcStatus: status.INVALID_ARGUMENT, grpcMessage: expect.stringMatching(message) });
  });
});
