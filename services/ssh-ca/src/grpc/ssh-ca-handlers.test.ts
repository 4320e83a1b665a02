// SshCaService over a real gRPC server on 127.0.0.1:0 with the same mTLS the service
// uses, and the certificate judged by stock OpenSSH (`ssh-keygen -L`).
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@mezite/identity';
import {
  createGrpcServer,
  createMeziteClient,
  ensureInternalPki,
  type GrpcServer,
  internalChannelCredentials,
  internalServerCredentials,
  type MeziteCallOptions,
  nullLogger,
} from '@mezite/platform';
import { sshcav1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import { CaManager } from '../domain/ca-manager';
import { CertificateSigner } from '../domain/certificate-signer';
import { MemoryCertAuthorityStore } from '../store/memory-cert-authority-store';
import { MemoryIssuedCertificateStore } from '../store/memory-issued-certificate-store';
import { KrlBuilder } from '../domain/krl-builder';
import { sshCaHandlers } from './ssh-ca-handlers';

const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const { USER, HOST, UNSPECIFIED } = {
  USER: sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_USER,
  HOST: sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_HOST,
  UNSPECIFIED: sshcav1.CertAuthorityType.CERT_AUTHORITY_TYPE_UNSPECIFIED,
};

let dir: string;
let server: GrpcServer;
let client: Client<typeof sshcav1.SshCaServiceDefinition, MeziteCallOptions>;
let close: () => void;
let log: MemoryIssuedCertificateStore;

/** Runs ssh-keygen in the scratch dir (UTC, so printed times are stable); non-zero exit throws. */
function keygen(...args: string[]): string {
  const r = spawnSync(SSH_KEYGEN, args, { cwd: dir, env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** A fresh key made by ssh-keygen: its private key path and public line. */
function subjectKey(type = 'ed25519'): { path: string; publicLine: string } {
  const path = join(dir, `id_${randomBytes(4).toString('hex')}`);
  keygen('-q', '-t', type, '-N', '', '-C', 'bot key', '-f', path);
  return { path, publicLine: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** `2026-03-01T11:59:00` as ssh-keygen -L prints a time in UTC. */
const keygenTime = (d: Date | undefined) => d?.toISOString().slice(0, 19);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mezite-ssh-ca-grpc-'));
  const pki = await ensureInternalPki({ dir: join(dir, 'pki'), names: ['ssh-ca', 'auth-server'] });
  const kek = randomBytes(32);
  log = new MemoryIssuedCertificateStore();
  const cas = new CaManager({ store: new MemoryCertAuthorityStore(), clock: systemClock, kek, algorithm: 'ecdsa-p256', issued: log });
  await cas.ensure();
  const signer = new CertificateSigner({ store: log, cas, kek, clock: systemClock, logger: nullLogger });
  await signer.load();

  server = createGrpcServer({ name: 'mezite.sshca.v1.SshCaService', logger: nullLogger });
  server.services.add(sshcav1.SshCaServiceDefinition, sshCaHandlers({ cas, signer, krl: new KrlBuilder({ issued: log, cas, clock: systemClock }), issued: log }));
  const me = pki.leaf('ssh-ca');
  const port = await server.listen('127.0.0.1:0', internalServerCredentials({ caCertPem: pki.caCertPem, certPem: me.certPem, keyPem: me.keyPem }));
  const caller = pki.leaf('auth-server');
  ({ client, close } = createMeziteClient(sshcav1.SshCaServiceDefinition, {
    address: `127.0.0.1:${port}`,
    credentials: internalChannelCredentials({ caCertPem: pki.caCertPem, certPem: caller.certPem, keyPem: caller.keyPem }),
    peerName: 'ssh-ca',
    channelOptions: { 'grpc.ssl_target_name_override': 'ssh-ca' }, // as the auth-server dials it
  }));
});

afterAll(async () => {
  close?.();
  await server?.shutdown(1000);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('SignCertificate returns a user certificate that ssh-keygen -L accepts, signed by the active User CA', async () => {
  const [userCa] = (await client.listCertAuthorities({ type: USER })).certAuthorities;
  expect(userCa).toBeDefined();
  // The fingerprint the service reports is the one OpenSSH computes for the CA key.
  writeFileSync(join(dir, 'user_ca.pub'), `${userCa?.publicKey}\n`);
  expect(keygen('-l', '-E', 'sha256', '-f', join(dir, 'user_ca.pub')).split(' ')[1]).toBe(userCa?.fingerprint);

  const subject = subjectKey();
  const subjectId = randomUUID();
  const res = await client.signCertificate({
    type: USER,
    publicKey: subject.publicLine,
    keyId: 'bot:github-deploy',
    principals: ['deploy', 'ubuntu'],
    ttlSeconds: 3600,
    extensions: { 'permit-pty': '', 'permit-agent-forwarding': '', 'mezite@mezite.dev': '{"bot":"github-deploy"}' },
    criticalOptions: { 'source-address': '10.0.0.0/8' },
    subjectId,
    tenantId: randomUUID(),
  });
  expect(res.serial).toMatch(/^[1-9]\d*$/);
  expect(res.caFingerprint).toBe(userCa?.fingerprint);
  expect((res.validBefore?.getTime() ?? 0) - (res.validAfter?.getTime() ?? 0)).toBe(3660_000);

  const certPath = `${subject.path}-cert.pub`;
  writeFileSync(certPath, `${res.certificate}\n`);
  const out = keygen('-L', '-f', certPath);
  expect(out).toContain('Type: ssh-ed25519-cert-v01@openssh.com user certificate');
  expect(out).toContain(`Public key: ED25519-CERT ${keygen('-l', '-E', 'sha256', '-f', `${subject.path}.pub`).split(' ')[1]}`);
  expect(out).toContain(`Signing CA: ECDSA ${userCa?.fingerprint} (using ecdsa-sha2-nistp256)`);
  expect(out).toContain(`Key ID: "bot:github-deploy/${res.serial}"`);
  expect(out).toContain(`Serial: ${res.serial}`);
  expect(out).toContain(`Valid: from ${keygenTime(res.validAfter)} to ${keygenTime(res.validBefore)}`);
  expect(out).toMatch(/Principals: \n\s+deploy\n\s+ubuntu\n/);
  expect(out).toMatch(/Critical Options: \n\s+source-address 10\.0\.0\.0\/8\n/);
  expect(out).toMatch(/Extensions: \n\s+mezite@mezite\.dev UNKNOWN OPTION: .*\n\s+permit-agent-forwarding\n\s+permit-pty\n/);

  // Logged before it was returned.
  expect(await log.listBySubject(subjectId)).toEqual([expect.objectContaining({ serial: BigInt(res.serial), keyId: `bot:github-deploy/${res.serial}`, principals: ['deploy', 'ubuntu'] })]);
});

test('SignCertificate returns a host certificate signed by the Host CA', async () => {
  const [hostCa] = (await client.listCertAuthorities({ type: HOST })).certAuthorities;
  const subject = subjectKey('ecdsa');
  const res = await client.signCertificate({ type: HOST, publicKey: subject.publicLine, keyId: 'node:web-1', principals: ['web-1', 'web-1.example.com'], ttlSeconds: 86_400, extensions: {}, criticalOptions: {}, subjectId: '', tenantId: '' });
  const certPath = `${subject.path}-cert.pub`;
  writeFileSync(certPath, `${res.certificate}\n`);
  const out = keygen('-L', '-f', certPath);
  expect(out).toContain('Type: ecdsa-sha2-nistp256-cert-v01@openssh.com host certificate');
  expect(out).toContain(`Signing CA: ECDSA ${hostCa?.fingerprint} (using ecdsa-sha2-nistp256)`);
  expect(out).toMatch(/Principals: \n\s+web-1\n\s+web-1\.example\.com\n/);
  expect(out).toMatch(/Extensions: \(none\)/);
});

test('bad requests come back as INVALID_ARGUMENT with a message naming the field', async () => {
  const base = { publicKey: subjectKey().publicLine, keyId: 'bot:x', principals: ['deploy'], ttlSeconds: 3600, extensions: {}, criticalOptions: {}, subjectId: '', tenantId: '' };
  const cases: [Partial<sshcav1.SignCertificateRequest>, RegExp][] = [
    [{ type: UNSPECIFIED }, /type must be CERT_AUTHORITY_TYPE_USER or CERT_AUTHORITY_TYPE_HOST/],
    [{ type: USER, ttlSeconds: 0 }, /ttl_seconds/],
    [{ type: USER, principals: [] }, /principals/],
    [{ type: USER, publicKey: 'garbage' }, /public_key/],
    [{ type: HOST, extensions: { 'permit-pty': '' } }, /host certificates carry no extensions/],
  ];
  for (const [over, message] of cases) {
    await expect(client.signCertificate({ type: USER, ...base, ...over })).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(message) });
  }
});
