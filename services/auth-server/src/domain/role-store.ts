import type { Role } from '@mezite/identity';

/** A role as stored: the role and its bookkeeping. */
export interface StoredRole {
  role: Role;
  createdAt: Date;
  updatedAt: Date;
  revision: number;
}

/** Persistence of roles; every method is scoped to one tenant. */
export interface RoleStore {
  /** Creates the role; AlreadyExists when one of that name exists. */
  create(tenantId: string, role: Role, at: Date): Promise<StoredRole>;
  /** Replaces the role, or creates it; `created` says which. */
  replace(tenantId: string, role: Role, at: Date): Promise<{ created: boolean; stored: StoredRole }>;
  get(tenantId: string, name: string): Promise<StoredRole | null>;
  /** The named roles that exist (missing names are left out). */
  getMany(tenantId: string, names: string[]): Promise<StoredRole[]>;
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<StoredRole[]>;
  delete(tenantId: string, name: string): Promise<boolean>;
}
