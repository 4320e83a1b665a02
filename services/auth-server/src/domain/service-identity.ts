/** A machine principal (kind `service`) that signs in with OAuth2 client_credentials. */
export interface ServiceIdentity {
  id: string;
  tenantId: string;
  name: string;
  /** Unique across the cluster: it names the tenant at sign-in. */
  clientId: string;
  createdAt: Date;
}

/** Persistence of service identities. */
export interface ServiceIdentityStore {
  /** AlreadyExists when the name is taken in the tenant or the client id anywhere. */
  create(s: ServiceIdentity): Promise<void>;
  get(tenantId: string, name: string): Promise<ServiceIdentity | null>;
  getById(tenantId: string, id: string): Promise<ServiceIdentity | null>;
  /** Across tenants: client ids are unique cluster-wide. */
  getByClientId(clientId: string): Promise<ServiceIdentity | null>;
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<ServiceIdentity[]>;
  delete(tenantId: string, id: string): Promise<boolean>;
}
