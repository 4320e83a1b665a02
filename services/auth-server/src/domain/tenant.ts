import type { MachineIdpConfig } from './machine-idp';

/** A tenant: a domain with its own principals. Nothing crosses tenants. */
export interface Tenant {
  id: string;
  /** Unique, human-readable name (`default`, `svc-demo`). */
  domain: string;
  /** `machine` tenants have no human sign-in (seed 000's `svc-demo`). */
  kind: 'human' | 'machine' | 'mixed';
  createdAt: Date;
  /** How machines of this tenant prove their client credentials. */
  machineIdp: MachineIdpConfig;
}

/** A person, signed in interactively (or the bootstrap admin). */
export interface User {
  id: string;
  tenantId: string;
  name: string;
  roles: string[];
  createdAt: Date;
}

/** Persistence of tenants and users. */
export interface TenantStore {
  /** Creates the tenant unless one with the same domain exists; returns the stored one. */
  ensureTenant(t: Tenant): Promise<Tenant>;
  getTenantByDomain(domain: string): Promise<Tenant | null>;
  getTenantById(id: string): Promise<Tenant | null>;
  /** Sets a tenant's machine identity provider (from the tenants configuration). */
  setMachineIdp(id: string, idp: MachineIdpConfig): Promise<void>;
  /** Creates the user unless one with the same tenant and name exists; returns the stored one. */
  ensureUser(u: User): Promise<User>;
}
