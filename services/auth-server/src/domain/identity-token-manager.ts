import {
  formatIdentityRef,
  invalidArgument,
  isMeziteError,
  notFound,
  parseIdentityRef,
  permissionDenied,
  unauthenticated,
  type Principal,
} from '@mezite/identity';
import type { AuditLog } from './audit';
import type { ApiTokenClient, ApiTokenInfo, ApiTokenUsage } from './api-token-client';
import { ADMIN_ROLE } from './authz';
import { clientAuthKeys, type FailureLimiter } from './failure-limiter';
import type { FailureSpikeAlarm } from './failure-spike-alarm';
import type { MachineIdentityProvider } from './machine-idp';
import type { RefusalAuditor } from './refusal-auditor';
import type { ServiceIdentityStore } from './service-identity';

/** Seed 000's anti-escalation message, word for word. */
export const API_TOKEN_CANNOT_MINT = 'a caller authenticated via an API token cannot mint another API token; sign in interactively to issue tokens';

/** Why a caller holding an API token may not rotate another token. */
export const API_TOKEN_ROTATES_ITSELF = 'a caller authenticated via an API token may rotate only the token it presents: present the token you mean to rotate';

/** Lifetime of the token a machine gets from client_credentials. */
export const SERVICE_TOKEN_TTL_SECONDS = 24 * 3600;

/** A freshly issued token: the plaintext exists only in this value. */
export interface IssuedApiToken {
  plaintext: string;
  token: ApiTokenInfo;
}

/** Options of IdentityTokenManager. */
export interface IdentityTokenManagerOptions {
  tokens: ApiTokenClient;
  services: ServiceIdentityStore;
  /** The machine identity provider of a tenant. */
  machineIdp: (tenantId: string) => Promise<MachineIdentityProvider>;
  audit: AuditLog;
  /**
   * Brute-force protection for client authentication: refuses a (client id, source)
   * pair or a source over its limit, never a client id alone (see `clientAuthKeys`).
   */
  limiter?: FailureLimiter;
  /** Alerts when one client id fails from many sources (the limiter does not refuse it). */
  alarm?: Pick<FailureSpikeAlarm, 'observe'>;
  /**
   * Bounds the audit records of rate-limited attempts (one per source per window):
   * without it every attempt the limiter refuses is an append to the audit chain.
   */
  refusals?: Pick<RefusalAuditor, 'rateLimited'>;
}

/**
 * Seed 000: machines sign in with client_credentials and get an API token; callers
 * list, rotate and delete their own tokens; only interactive sessions mint.
 */
export class IdentityTokenManager {
  constructor(private readonly o: IdentityTokenManagerOptions) {
    for (const k of ['tokens', 'services', 'machineIdp', 'audit'] as const) if (!o[k]) throw new Error(`IdentityTokenManager: ${k} is required`);
  }

  /** The machine's sign-in. Every credential failure gets the same message. */
  async issueService(input: { clientId: string; clientSecret: string; grantType: string; requestId: string; source?: string }): Promise<IssuedApiToken> {
    if (input.grantType !== 'client_credentials') throw invalidArgument(`unsupported grant_type ${JSON.stringify(input.grantType.slice(0, 40))}: only client_credentials is supported`);
    const source = input.source ?? 'unknown';
    const keys = clientAuthKeys(input.clientId, input.source);
    try {
      this.o.limiter?.check(keys.check);
    } catch (err) {
      const actor = `client:${input.clientId.slice(0, 64)}`;
      if (this.o.refusals) await this.o.refusals.rateLimited({ type: 'token.issue_service', requestId: input.requestId, source, credential: 'client secret', target: 'service:?' }, { actor });
      else await this.o.audit.record({ tenantId: null, type: 'token.issue_service', actor, target: 'service:?', result: 'failure', requestId: input.requestId, details: { reason: 'rate limited', ...(input.source ? { source: input.source } : {}) } });
      throw err;
    }
    if (!input.clientId || !input.clientSecret || input.clientId.length > 256 || input.clientSecret.length > 1024) {
      await this.o.limiter?.fail(keys.fail);
      throw unauthenticated('invalid client credentials');
    }
    const svc = await this.o.services.getByClientId(input.clientId);
    const fail = async (reason: string) => {
      if (this.o.limiter) {
        const failKeys = svc ? clientAuthKeys(input.clientId, input.source, true).fail : keys.fail;
        const counts = await this.o.limiter.fail(failKeys);
        const clientFailures = svc ? counts[failKeys.length - 1] : undefined; // `client:<id>` comes last
        if (svc && clientFailures !== undefined && this.o.alarm) await this.o.alarm.observe({ clientId: input.clientId, serviceId: svc.id, tenantId: svc.tenantId, failures: clientFailures, requestId: input.requestId, source });
      }
      await this.o.audit.record({ tenantId: svc?.tenantId ?? null, type: 'token.issue_service', actor: `client:${input.clientId.slice(0, 64)}`, target: svc ? `service:${svc.id}` : 'service:?', result: 'failure', requestId: input.requestId, details: { reason, ...(input.source ? { source: input.source } : {}) } });
      return unauthenticated('invalid client credentials');
    };
    if (!svc) throw await fail('unknown client');
    let r: IssuedApiToken | undefined;
    try {
      const idp = await this.o.machineIdp(svc.tenantId);
      // The built-in provider verifies and mints in one call; others verify, then we mint.
      if (idp.verifyAndMint) r = await idp.verifyAndMint({ clientId: input.clientId, secret: input.clientSecret, tenantId: svc.tenantId, serviceIdentityId: svc.id, env: 'live', ttlSeconds: SERVICE_TOKEN_TTL_SECONDS, requestId: input.requestId });
      else await idp.verify(input.clientId, input.clientSecret, input.requestId);
    } catch (err) {
      if (isMeziteError(err, 'Unauthenticated')) throw await fail('bad secret');
      throw err;
    }
    r ??= await this.o.tokens.mint({ tenantId: svc.tenantId, identityKind: 'service', identityId: svc.id, env: 'live', ttlSeconds: SERVICE_TOKEN_TTL_SECONDS, requestId: input.requestId });
    await this.o.audit.record({ tenantId: svc.tenantId, type: 'token.issue_service', actor: `service:${svc.id}`, target: `token:${r.token.id}`, result: 'success', requestId: input.requestId, details: {} });
    return r;
  }

  /**
   * Mints a token for an identity. Only an interactive session may (a leaked API token
   * must not spawn more), and only for itself or, for admins, a service of its tenant.
   */
  async issue(caller: Principal, input: { identityRef: string; envPrefix: string; ttlSeconds: number; requestId: string }): Promise<IssuedApiToken> {
    if (caller.authMethod === 'api-token' || caller.authMethod === 'bot-certificate') {
      await this.o.audit.record({ tenantId: caller.tenantId, type: 'token.issue', actor: formatIdentityRef(caller), target: input.identityRef.slice(0, 80), result: 'failure', requestId: input.requestId, details: { reason: 'api token caller' } });
      throw permissionDenied(API_TOKEN_CANNOT_MINT);
    }
    const ref = parseIdentityRef(input.identityRef);
    if (input.envPrefix !== 'live' && input.envPrefix !== 'dev') throw invalidArgument('--env-prefix must be live or dev');
    const self = ref.kind === caller.kind && ref.id === caller.id;
    if (!self) {
      if (!caller.roles.includes(ADMIN_ROLE)) throw permissionDenied(`${caller.name} may only mint tokens for itself`);
      if (ref.kind !== 'service' || !(await this.o.services.getById(caller.tenantId, ref.id))) throw notFound(`identity ${input.identityRef} not found`);
    }
    const r = await this.o.tokens.mint({ tenantId: caller.tenantId, identityKind: ref.kind, identityId: ref.id, env: input.envPrefix, ttlSeconds: Math.max(0, input.ttlSeconds), requestId: input.requestId });
    await this.o.audit.record({ tenantId: caller.tenantId, type: 'token.issue', actor: formatIdentityRef(caller), target: `token:${r.token.id}`, result: 'success', requestId: input.requestId, details: { identity: input.identityRef } });
    return r;
  }

  /** The caller's own tokens, newest first. */
  list(caller: Principal, requestId?: string): Promise<ApiTokenInfo[]> {
    return this.o.tokens.list(caller.tenantId, caller.id, requestId);
  }

  /**
   * Rotates one of the caller's own tokens (machines may: this is their lifecycle). A
   * caller holding an API token may rotate only the token it presents, decided before
   * any lookup (so the answer says nothing of the id named): otherwise a leaked token
   * could rotate its identity's other tokens, taking their successors' plaintexts and
   * cutting the owners' tokens to the overlap (issue 14). Sessions rotate any token of
   * their own identity.
   */
  async rotate(caller: Principal, id: string, requestId: string): Promise<{ plaintext: string; token: ApiTokenInfo; rotationDeadline: Date }> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw invalidArgument('--id must be a token id (UUID)');
    if (caller.authMethod === 'api-token' && caller.apiTokenId !== id) {
      await this.o.audit.record({ tenantId: caller.tenantId, type: 'token.rotate', actor: formatIdentityRef(caller), target: `token:${id}`, result: 'failure', requestId, details: { reason: 'not the presented api token' } });
      throw permissionDenied(API_TOKEN_ROTATES_ITSELF);
    }
    const r = await this.o.tokens.rotate({ tenantId: caller.tenantId, identityId: caller.id, id, requestId });
    await this.o.audit.record({ tenantId: caller.tenantId, type: 'token.rotate', actor: formatIdentityRef(caller), target: `token:${id}`, result: 'success', requestId, details: { successor: r.token.id } });
    return r;
  }

  /**
   * Who presented one of the caller's own tokens, per hour and presenter. An admin may
   * name a service identity of its tenant (`identityRef`).
   */
  async usage(caller: Principal, id: string, identityRef: string, requestId: string): Promise<{ usage: ApiTokenUsage[]; lastUsedAt: Date | null }> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw invalidArgument('--id must be a token id (UUID)');
    let ownerId = caller.id;
    if (identityRef) {
      const ref = parseIdentityRef(identityRef);
      if (ref.kind !== caller.kind || ref.id !== caller.id) {
        if (!caller.roles.includes(ADMIN_ROLE)) throw permissionDenied(`${caller.name} may only see the usage of its own tokens`);
        if (ref.kind !== 'service' || !(await this.o.services.getById(caller.tenantId, ref.id))) throw notFound(`identity ${identityRef} not found`);
        ownerId = ref.id;
      }
    }
    return this.o.tokens.usage({ tenantId: caller.tenantId, identityId: ownerId, id, requestId });
  }

  /**
   * Ends the overlap of one of the caller's rotated tokens now (it stops working on
   * every replica at once); refused while the old token is still presented unless
   * `force`. A caller holding an API token may finish only the rotation of that token
   * or of the token it replaced.
   */
  async finishRotation(caller: Principal, id: string, force: boolean, requestId: string): Promise<void> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw invalidArgument('--id must be a token id (UUID)');
    await this.o.tokens.finishRotation({ tenantId: caller.tenantId, identityId: caller.id, id, force, requestId, ...(caller.authMethod === 'api-token' && caller.apiTokenId ? { presentedTokenId: caller.apiTokenId } : {}) });
    await this.o.audit.record({ tenantId: caller.tenantId, type: 'token.finish_rotation', actor: formatIdentityRef(caller), target: `token:${id}`, result: 'success', requestId, details: { forced: String(force) } });
  }

  /** Who presented token `id` of the caller in the last hour, most uses first (empty when that cannot be read: it only informs). */
  async recentUsers(caller: Principal, id: string, requestId: string, now = new Date()): Promise<ApiTokenUsage[]> {
    try {
      const { usage } = await this.o.tokens.usage({ tenantId: caller.tenantId, identityId: caller.id, id, requestId });
      const since = now.getTime() - 3_600_000;
      const by = new Map<string, ApiTokenUsage>();
      for (const u of usage.filter((x) => x.lastSeen.getTime() >= since)) {
        const k = `${u.source}\n${u.client}`;
        const e = by.get(k);
        if (!e) by.set(k, { ...u });
        else e.count += u.count;
      }
      return [...by.values()].sort((a, b) => b.count - a.count);
    } catch {
      return [];
    }
  }

  /** Revokes one of the caller's own tokens and the successors rotation gave it, on every replica, before returning. */
  async delete(caller: Principal, id: string, requestId: string): Promise<void> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw invalidArgument('--id must be a token id (UUID)');
    await this.o.tokens.delete({ tenantId: caller.tenantId, identityId: caller.id, id, requestId });
    await this.o.audit.record({ tenantId: caller.tenantId, type: 'token.delete', actor: formatIdentityRef(caller), target: `token:${id}`, result: 'success', requestId, details: {} });
  }
}

/** Refuses a service identity name that is not a DNS label. */
export function checkServiceName(name: string): void {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw invalidArgument(`invalid service identity name "${name}": use 1 to 63 lower-case letters, digits and '-'`);
}

