import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMeziteError } from '@mezite/identity';
import { sshcav1 } from '@mezite/proto';
import { createChannel, createClient } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health';
import { nullLogger } from '../log/logger';
import { ensureInternalPki, type InternalPki } from '../pki';
import { createMeziteClient } from './client';
import { internalChannelCredentials, internalServerCredentials } from './credentials';
import { createGrpcServer, type GrpcServer } from './server';

describe('internal ports accept only the services allowed to call them', () => {
  let dir: string;
  let pki: InternalPki;
  let server: GrpcServer;
  let port: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-callers-'));
    pki = await ensureInternalPki({ dir, names: ['ssh-ca', 'auth-server', 'token-service'] });
    server = createGrpcServer({ name: 'mezite.sshca.v1.SshCaService', logger: nullLogger, allowedCallers: ['auth-server'] });
    server.services.add(sshcav1.SshCaServiceDefinition, {
      listCertAuthorities: async () => ({ certAuthorities: [] }),
      signCertificate: async () => ({ certificate: 'signed', serial: '1', caFingerprint: '' }),
      rotateCertAuthority: async () => ({ certAuthorities: [] }),
      generateKrl: async () => ({ krl: Buffer.alloc(0), revokedCertificates: 0 }),
      getIssuedCertificate: async () => ({ serial: '1', type: 1, keyId: '', subjectId: '', tenantId: '', caFingerprint: '' }),
    });
    const me = pki.leaf('ssh-ca');
    port = await server.listen('127.0.0.1:0', internalServerCredentials({ caCertPem: pki.caCertPem, certPem: me.certPem, keyPem: me.keyPem }));
  });
  afterAll(async () => {
    await server.shutdown(100);
    rmSync(dir, { recursive: true, force: true });
  });

  const clientAs = (name: string) => {
    const leaf = pki.leaf(name);
    return createMeziteClient(sshcav1.SshCaServiceDefinition, {
      address: `127.0.0.1:${port}`,
      credentials: internalChannelCredentials({ caCertPem: pki.caCertPem, certPem: leaf.certPem, keyPem: leaf.keyPem }),
      peerName: 'ssh-ca',
      defaultDeadlineMs: 5000,
      channelOptions: { 'grpc.ssl_target_name_override': 'ssh-ca' },
    });
  };

  test('the auth-server is served; another internal service is PermissionDenied, naming itself', async () => {
    const auth = clientAs('auth-server');
    const other = clientAs('token-service');
    try {
      await expect(auth.client.signCertificate({ publicKey: 'x' })).resolves.toMatchObject({ certificate: 'signed' });
      let err: unknown;
      try {
        await other.client.signCertificate({ publicKey: 'x' });
      } catch (e) {
        err = e;
      }
      expect(isMeziteError(err, 'PermissionDenied')).toBe(true);
      expect((err as Error).message).toMatch(/caller token-service may not call \/mezite.sshca.v1.SshCaService\/SignCertificate/);
    } finally {
      auth.close();
      other.close();
    }
  });

  test('health checks stay open to every certificate of the internal CA', async () => {
    const leaf = pki.leaf('token-service');
    const channel = createChannel(`127.0.0.1:${port}`, internalChannelCredentials({ caCertPem: pki.caCertPem, certPem: leaf.certPem, keyPem: leaf.keyPem }), { 'grpc.ssl_target_name_override': 'ssh-ca' });
    try {
      const health = createClient(HealthDefinition, channel);
      await expect(health.check({ service: '' })).resolves.toMatchObject({ status: 1 });
    } finally {
      channel.close();
    }
  });
});
