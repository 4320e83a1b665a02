import { randomUUID } from 'node:crypto';
import { alreadyExists, invalidArgument, isMeziteError, notFound, type Clock, type Principal } from '@mezite/identity';
import type { ApiTokenClient } from './api-token-client';
import type { ServiceIdentity, ServiceIdentityStore } from './service-identity';
import { checkServiceName } from './identity-token-manager';

const CLIENT_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Service identity lifecycle in the caller's tenant; the client secret lives in token-service. */
export class ServiceIdentityManager {
  constructor(private readonly o: { store: ServiceIdentityStore; secrets: Pick<ApiTokenClient, 'setClientSecret' | 'deleteClientSecret' | 'list' | 'delete'>; clock: Clock }) {
    if (!o.store || !o.secrets || !o.clock) throw new Error('ServiceIdentityManager: store, secrets and clock are required');
  }

  /** Creates the identity and its client secret (shown once). `secret` is for demo fixtures only. */
  async create(tenantId: string, input: { name: string; clientId?: string; secret?: string; requestId?: string }): Promise<{ identity: ServiceIdentity; clientSecret: string }> {
    checkServiceName(input.name);
    const clientId = input.clientId || input.name;
    if (!CLIENT_ID.test(clientId)) throw invalidArgument(`invalid client id "${clientId}": use 1 to 128 letters, digits, '.', '_' and '-'`);
    if (await this.o.store.getByClientId(clientId)) throw alreadyExists(`client id "${clientId}" is taken`);
    const identity: ServiceIdentity = { id: randomUUID(), tenantId, name: input.name, clientId, createdAt: this.o.clock.now() };
    await this.o.store.create(identity);
    try {
      const clientSecret = await this.o.secrets.setClientSecret({ tenantId, clientId, serviceIdentityId: identity.id, ...(input.secret ? { secret: input.secret } : {}), ...(input.requestId ? { requestId: input.requestId } : {}) });
      return { identity, clientSecret };
    } catch (err) {
      await this.o.store.delete(tenantId, identity.id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The identity if it exists, untouched (a secret its admin rotated stays rotated),
   * else creates it with `secret` (the demo fixtures; replicas may race to create it).
   */
  async ensure(tenantId: string, input: { name: string; clientId: string; secret: string }): Promise<ServiceIdentity> {
    const cur = await this.o.store.getByClientId(input.clientId);
    if (cur) return cur;
    try {
      return (await this.create(tenantId, input)).identity;
    } catch (err) {
      const raced = isMeziteError(err, 'AlreadyExists') ? await this.o.store.getByClientId(input.clientId) : undefined;
      if (raced) return raced;
      throw err;
    }
  }

  async get(caller: Principal, name: string): Promise<ServiceIdentity> {
    const s = await this.o.store.get(caller.tenantId, name);
    if (!s) throw notFound(`service identity "${name}" not found`);
    return s;
  }

  list(caller: Principal, opts: { limit: number; afterName?: string }): Promise<ServiceIdentity[]> {
    return this.o.store.list(caller.tenantId, opts);
  }

  /**
   * Removes the identity, and with it every way it had in: first its client secret (no
   * new token from client_credentials), then each of its API tokens, revoked as
   * `identity-tokens delete` revokes one (refused on every replica when this returns),
   * then the identity itself. A failure on the way leaves the identity in place, so the
   * admin can retry; nothing is left that works without it.
   */
  async delete(caller: Principal, name: string, requestId?: string): Promise<void> {
    const s = await this.get(caller, name);
    await this.o.secrets.deleteClientSecret(s.clientId, requestId).catch((err: unknown) => {
      if (!isMeziteError(err, 'NotFound')) throw err; // gone already (a retry)
    });
    await this.revokeTokens(s, requestId);
    await this.o.store.delete(caller.tenantId, s.id);
  }

  /**
   * Replaces the client secret; the old one stops working at once. Tokens the identity
   * was issued stay valid until they expire, unless `revokeTokens`: then, after the new
   * secret is stored (so the old one mints no more), every live API token of the
   * identity is revoked as `delete` revokes them — refused on every replica when this
   * returns. A failure there rejects after the secret was replaced; the retry replaces
   * it again and finishes the revocation.
   */
  async rotateSecret(caller: Principal, name: string, opts: { revokeTokens?: boolean; requestId?: string } = {}): Promise<{ identity: ServiceIdentity; clientSecret: string; revokedTokens: number }> {
    const s = await this.get(caller, name);
    const clientSecret = await this.o.secrets.setClientSecret({ tenantId: s.tenantId, clientId: s.clientId, serviceIdentityId: s.id, ...(opts.requestId ? { requestId: opts.requestId } : {}) });
    const revokedTokens = opts.revokeTokens ? await this.revokeTokens(s, opts.requestId) : 0;
    return { identity: s, clientSecret, revokedTokens };
  }

  /** Revokes every live API token of the identity (and the successors of each), on every replica; returns how many were listed. */
  private async revokeTokens(s: ServiceIdentity, requestId?: string): Promise<number> {
    const rid = requestId ? { requestId } : {};
    const tokens = await this.o.secrets.list(s.tenantId, s.id, requestId);
    await Promise.all(tokens.map((t) => this.o.secrets.delete({ tenantId: s.tenantId, identityId: s.id, id: t.id, ...rid })));
    return tokens.length;
  }
}
