import { randomUUID } from 'node:crypto';
import type { Principal } from '@mezite/identity';
import type { CallContext } from 'nice-grpc';
import type { AuditEvent, AuditLog } from '../domain/audit';
import type { CaInfo, CertAuthorityClient } from '../domain/cert-authority-client';
import type { RevocationList } from '../domain/revocation';
import type { AuthContext } from './auth-middleware';
import { caHandlers } from './ca-handlers';

const clusterTenant = randomUUID();
const otherTenant = randomUUID();
const admin = (tenantId: string, name: string): Principal => ({ kind: 'user', id: randomUUID(), tenantId, name, authMethod: 'interactive-session', roles: ['admin'] });
const ctx = (principal: Principal) => ({ principal, requestId: 'r-1' }) as unknown as CallContext & AuthContext;

/** The shared CAs as ssh-ca answers for them; records what was asked. */
function fakeCa() {
  const calls: string[] = [];
  const info: CaInfo = { type: 'user', publicKey: 'ssh-ed25519 AAAA', fingerprint: 'SHA256:x', state: 'active', createdAt: new Date() } as CaInfo;
  const ca = {
    sign: async (i: { principals: string[] }) => (calls.push(`sign ${i.principals.join(',')}`), { certificate: 'cert', serial: '7', validBefore: new Date() }),
    status: async () => (calls.push('status'), [info]),
    rotate: async (_t: string, phase: string) => (calls.push(`rotate ${phase}`), [info]),
  } as unknown as CertAuthorityClient;
  return { ca, calls };
}

describe('CertAuthorityService: the shared CAs are the cluster admins’ alone', () => {
  const audit: AuditLog & { events: AuditEvent[] } = { events: [], record: async (e) => void audit.events.push(e as AuditEvent), list: async () => [] };
  const krl = {} as RevocationList;

  test("another tenant's admin may not rotate a CA nor sign host certificates with it (any principals: another tenant's hosts); nothing reaches ssh-ca", async () => {
    const { ca, calls } = fakeCa();
    const h = caHandlers(ca, audit, krl, async () => clusterTenant);
    const tenantAdmin = ctx(admin(otherTenant, 'acme-admin'));
    await expect(h.rotateCertAuthority({ type: 'user', phase: 'init', force: false }, tenantAdmin)).rejects.toMatchObject({ code: 'PermissionDenied', message: expect.stringContaining('only a cluster admin (an admin of the default tenant) may') });
    await expect(h.signHostCertificate({ publicKey: 'ssh-ed25519 AAAA', principals: ['web-1.other-tenant.example'], ttlSeconds: 3600 }, tenantAdmin)).rejects.toMatchObject({ code: 'PermissionDenied' });
    expect(calls).toEqual([]);
    // Listing (public keys and states) stays open to a tenant's admin.
    await expect(h.listCertAuthorities({ type: '' }, tenantAdmin)).resolves.toMatchObject({ certAuthorities: [expect.objectContaining({ type: 'user' })] });
  });

  test('an admin of the default tenant (the bootstrap admin) rotates and signs', async () => {
    const { ca, calls } = fakeCa();
    const h = caHandlers(ca, audit, krl, async () => clusterTenant);
    const clusterAdmin = ctx(admin(clusterTenant, 'admin'));
    await expect(h.rotateCertAuthority({ type: 'user', phase: 'init', force: false }, clusterAdmin)).resolves.toMatchObject({ phase: 'init' });
    await expect(h.signHostCertificate({ publicKey: 'ssh-ed25519 AAAA', principals: ['web-1'], ttlSeconds: 3600 }, clusterAdmin)).resolves.toMatchObject({ certificate: 'cert' });
    expect(calls).toEqual(['rotate init', 'sign web-1']);
  });

  test('a non-admin of the default tenant is refused as before', async () => {
    const { ca } = fakeCa();
    const h = caHandlers(ca, audit, krl, async () => clusterTenant);
    await expect(h.rotateCertAuthority({ type: 'user', phase: 'init', force: false }, ctx({ ...admin(clusterTenant, 'viewer'), roles: [] }))).rejects.toMatchObject({ code: 'PermissionDenied', message: expect.stringContaining('the admin role is required') });
  });
});
