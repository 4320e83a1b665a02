import type { Clock } from '@mezite/identity';
import type { ServiceIdentity, ServiceIdentityStore } from '../domain/service-identity';

/** Options of CachedServiceIdentityStore. */
export interface CachedServiceIdentityStoreOptions {
  store: ServiceIdentityStore;
  clock: Clock;
  /** How long a client id's identity is reused; default 10 s. */
  ttlMs?: number;
  /** Bound on the entries; past it the cache starts over. Default 10 000. */
  maxEntries?: number;
}

/**
 * A ServiceIdentityStore that keeps `getByClientId` answers for a few seconds in this
 * process: every client_credentials grant and OAuth2 client authentication looks its
 * client id up, and identities change rarely. Only found identities are kept (an
 * identity created on another replica is seen at once), and a create or delete through
 * this process drops everything kept.
 *
 * It decides nothing about credentials: token-service checks every secret, and mints
 * only for the identity its secret is bound to (MintClientApiToken), so an identity
 * deleted on another replica meanwhile gets no token — its secret went with it.
 */
export class CachedServiceIdentityStore implements ServiceIdentityStore {
  private readonly store: ServiceIdentityStore;
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private byClientId = new Map<string, { s: ServiceIdentity; until: number }>();
  /** Bumped by every create and delete, so a lookup that raced one does not keep its answer. */
  private generation = 0;

  constructor(o: CachedServiceIdentityStoreOptions) {
    if (!o.store || !o.clock) throw new Error('CachedServiceIdentityStore: store and clock are required');
    this.store = o.store;
    this.clock = o.clock;
    this.ttlMs = o.ttlMs ?? 10_000;
    this.maxEntries = o.maxEntries ?? 10_000;
  }

  async getByClientId(clientId: string): Promise<ServiceIdentity | null> {
    const now = this.clock.now().getTime();
    const hit = this.byClientId.get(clientId);
    if (hit && hit.until > now) return hit.s;
    const generation = this.generation;
    const s = await this.store.getByClientId(clientId);
    if (generation !== this.generation) return s;
    if (s) {
      if (this.byClientId.size >= this.maxEntries) this.byClientId = new Map();
      this.byClientId.set(clientId, { s, until: now + this.ttlMs });
    } else this.byClientId.delete(clientId);
    return s;
  }

  async create(s: ServiceIdentity): Promise<void> {
    this.forget();
    await this.store.create(s);
  }
  async delete(tenantId: string, id: string): Promise<boolean> {
    this.forget();
    try {
      return await this.store.delete(tenantId, id);
    } finally {
      this.forget();
    }
  }
  private forget(): void {
    this.generation++;
    this.byClientId.clear();
  }

  get(tenantId: string, name: string): Promise<ServiceIdentity | null> {
    return this.store.get(tenantId, name);
  }
  getById(tenantId: string, id: string): Promise<ServiceIdentity | null> {
    return this.store.getById(tenantId, id);
  }
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<ServiceIdentity[]> {
    return this.store.list(tenantId, opts);
  }
}
