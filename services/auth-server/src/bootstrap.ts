import { randomUUID } from 'node:crypto';
import { renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '@mezite/identity';
import type { Logger } from '@mezite/platform';
import { ADMIN_ROLE, CLUSTER_TENANT } from './domain/authz';
import type { AdminIdentityFile } from './domain/admin-identity';
import type { AuditLog } from './domain/audit';
import { audited } from './domain/audited-action';
import type { SessionManager } from './domain/session-manager';
import type { MachineIdpConfig } from './domain/machine-idp';
import type { ServiceIdentityStore } from './domain/service-identity';
import type { ServiceIdentityManager } from './domain/service-identity-manager';
import type { Tenant, TenantStore } from './domain/tenant';

/** The tenant the bootstrap admin and unscoped resources live in. */
export const DEFAULT_TENANT = CLUSTER_TENANT;
/** Seed 000's machine tenant. */
export const DEMO_MACHINE_TENANT = 'svc-demo';

/** How long a bootstrap admin session lives by default (MEZITE_BOOTSTRAP_SESSION_TTL). */
export const ADMIN_SESSION_TTL_MS = 30 * 24 * 3600_000;

/** Options of bootstrap. */
export interface BootstrapOptions {
  tenants: TenantStore;
  sessions: SessionManager;
  clock: Clock;
  log: Logger;
  demoFixtures: boolean;
  /** Where to write the admin identity file; '' or 'off' disables it. */
  adminIdentityFile: string;
  publicAddr: string;
  httpUrl: string;
  caCertPem: string;
  /** Service identities, for the demo fixture. */
  services: ServiceIdentityManager;
  serviceStore: ServiceIdentityStore;
  /** Tenants declared in configuration (MEZITE_TENANTS). */
  tenantsConfig: TenantConfig[];
  /** The bootstrap admin session's mint and revocation are audited (before they happen). */
  audit: Pick<AuditLog, 'record'>;
  /** MEZITE_BOOTSTRAP_ADMIN: false revokes the bootstrap session and writes no identity file. */
  bootstrapAdmin?: boolean;
  /** MEZITE_BOOTSTRAP_SESSION_TTL; default 30 days. */
  bootstrapSessionTtlMs?: number;
}

/** A tenant declared in configuration, with its machine identity provider. */
export interface TenantConfig {
  domain: string;
  kind?: Tenant['kind'];
  machineIdp?: MachineIdpConfig;
  /** Service identities whose credentials the external provider checks (no secret kept here). */
  serviceIdentities?: Array<{ name: string; clientId: string }>;
}

/**
 * Makes the auth-server usable on first start, idempotently (replicas may run it at
 * once): the default tenant with its bootstrap admin, the demo fixtures when asked,
 * and a valid admin identity file on this host.
 */
export async function bootstrap(o: BootstrapOptions): Promise<{ defaultTenant: Tenant }> {
  const builtin = { kind: 'builtin' } as const;
  const defaultTenant = await o.tenants.ensureTenant({ id: randomUUID(), domain: DEFAULT_TENANT, kind: 'mixed', createdAt: o.clock.now(), machineIdp: builtin });
  const admin = await o.tenants.ensureUser({ id: randomUUID(), tenantId: defaultTenant.id, name: 'admin', roles: [ADMIN_ROLE], createdAt: o.clock.now() });
  if (o.demoFixtures) {
    const demo = await o.tenants.ensureTenant({ id: randomUUID(), domain: DEMO_MACHINE_TENANT, kind: 'machine', createdAt: o.clock.now(), machineIdp: builtin });
    // Seed 000's fixture: fixture values, never real secrets.
    const svc = await o.services.ensure(demo.id, { name: 'svc-deployer', clientId: 'svc-deployer', secret: 'svc-deployer-demo-secret' });
    o.log.info('demo fixtures ready', { tenant: demo.domain, tenant_id: demo.id, service_identity: svc.id, client_id: svc.clientId });
    o.log.warn('the demo fixtures are on: client svc-deployer was created with the secret seed 000 publishes; for demonstrations only, turn them off (MEZITE_DEMO_FIXTURES=false) anywhere else', { tenant: demo.domain, client_id: svc.clientId });
  }
  for (const t of o.tenantsConfig) {
    const tenant = await o.tenants.ensureTenant({ id: randomUUID(), domain: t.domain, kind: t.kind ?? 'machine', createdAt: o.clock.now(), machineIdp: t.machineIdp ?? builtin });
    if (t.machineIdp) await o.tenants.setMachineIdp(tenant.id, t.machineIdp);
    for (const s of t.serviceIdentities ?? []) {
      if (!(await o.serviceStore.getByClientId(s.clientId))) await o.serviceStore.create({ id: randomUUID(), tenantId: tenant.id, name: s.name, clientId: s.clientId, createdAt: o.clock.now() });
    }
    o.log.info('tenant configured', { tenant: tenant.domain, machine_idp: (t.machineIdp ?? builtin).kind });
  }
  if (o.bootstrapAdmin === false) {
    // Vault's "revoke the root token once set up": people sign in with mezctl login.
    const live = (await o.sessions.listBootstrap(defaultTenant.id)).filter((s) => s.expiresAt > o.clock.now());
    if (live.length) {
      await audited({ audit: o.audit, log: o.log }, { tenantId: defaultTenant.id, type: 'session.bootstrap_revoke', actor: 'mezite', target: `session:${live[0]?.id}`, requestId: 'bootstrap', details: { reason: 'MEZITE_BOOTSTRAP_ADMIN=false' } }, () => o.sessions.revokeBootstrap(defaultTenant.id));
      o.log.info('bootstrap admin session revoked (MEZITE_BOOTSTRAP_ADMIN=false)', { sessions: live.length });
    }
    if (o.adminIdentityFile && o.adminIdentityFile !== 'off') rmSync(o.adminIdentityFile, { force: true });
  } else if (o.adminIdentityFile && o.adminIdentityFile !== 'off') {
    const ttlMs = o.bootstrapSessionTtlMs ?? ADMIN_SESSION_TTL_MS;
    const input = { tenantId: defaultTenant.id, principalId: admin.id, name: 'admin', roles: admin.roles, ttlMs };
    // One bootstrap session for all replicas and starts: reused while live, else a new one
    // replaces the others — audited first (the record names the session it will be).
    const s =
      (await o.sessions.liveBootstrap(defaultTenant.id)) ??
      (await audited(
        { audit: o.audit, log: o.log },
        { tenantId: defaultTenant.id, type: 'session.bootstrap', actor: 'mezite', target: 'session:bootstrap', requestId: 'bootstrap', details: { principal: `user:${admin.id}`, ttl_s: String(Math.round(ttlMs / 1000)) } },
        () => o.sessions.ensureBootstrap(input),
        (r) => ({ target: `session:${r.session.id}`, details: { replaced: String(r.revoked), expires: r.session.expiresAt.toISOString() } }),
      ));
    const token = s.secret;
    const file: AdminIdentityFile = {
      version: 1,
      auth_server: o.publicAddr,
      http_url: o.httpUrl,
      ca_cert: o.caCertPem,
      token,
      principal: `user:${admin.id}`,
      tenant: DEFAULT_TENANT,
    };
    writeSecretFile(o.adminIdentityFile, JSON.stringify(file, null, 2) + '\n');
    o.log.info('admin identity file written', { path: o.adminIdentityFile });
  }
  return { defaultTenant };
}

/** Writes a file readable only by its owner, atomically (temp file, then rename). */
export function writeSecretFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
}
