import { randomUUID } from 'node:crypto';
import { failedPrecondition, formatIdentityRef, isMeziteError, type Clock, type Principal } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import type { AuditLog } from './audit';
import { ADMIN_ROLE } from './authz';
import type { FailureLimiter } from './failure-limiter';
import type { IdTokenVerifier, VerifiedIdToken } from './id-token-verifier';
import { Refusal } from './refusal';
import { RefusalAuditor, type RefusalEvent } from './refusal-auditor';
import type { Session } from './session';
import type { SessionManager } from './session-manager';
import type { Tenant, TenantStore } from './tenant';

/** How long a person's session lives. */
export const HUMAN_SESSION_TTL_MS = 12 * 3600_000;
/** Scopes the CLI asks for: the ID token then names the person by email. */
export const LOGIN_SCOPES = ['openid', 'email', 'profile'];
/** The tenant an empty `tenant` means. */
const DEFAULT_TENANT = 'default';

/** The human identity provider people sign in with, when one is configured. */
export interface HumanIdpConfig {
  issuer: string;
  /** The public client the CLI uses (PKCE, loopback redirect). */
  clientId: string;
  verifier: IdTokenVerifier;
  /** Subjects or verified emails that get the admin role in their tenant. */
  admins: string[];
}

/** Options of LoginManager. */
export interface LoginManagerOptions {
  /** Undefined: human sign-in is off, and every call says so. */
  idp: HumanIdpConfig | undefined;
  tenants: TenantStore;
  sessions: SessionManager;
  audit: AuditLog;
  clock: Clock;
  /** Counts failed sign-ins per source address (brute-force protection). */
  limiter?: FailureLimiter;
  /** Audits refused and rate-limited sign-ins within its bounds; default: one of its own. */
  refusals?: RefusalAuditor;
  sessionTtlMs?: number;
}

/** A started session; the secret exists only in this value. */
export interface StartedSession {
  secret: string;
  session: Session;
}

/**
 * Human sign-in: an ID token from the tenant's OpenID Provider becomes a Mezite session
 * (`interactive-session`, with the token's `acr` and `amr`) for the user keyed by
 * `oidc:<sub>` in that tenant, created on first sign-in. Only interactive sessions may
 * mint API tokens (seed 000), so this is where people get that power.
 */
export class LoginManager {
  private readonly refusals: RefusalAuditor;

  constructor(private readonly o: LoginManagerOptions) {
    for (const k of ['tenants', 'sessions', 'audit', 'clock'] as const) if (!o[k]) throw new Error(`LoginManager: ${k} is required`);
    this.refusals = o.refusals ?? new RefusalAuditor({ audit: o.audit, clock: o.clock, log: nullLogger });
  }

  /** Where and how the CLI signs in to `tenant` (empty: the default tenant). */
  async loginConfig(tenant: string): Promise<{ issuer: string; clientId: string; scopes: string[] }> {
    const { idp } = await this.resolve(tenant);
    return { issuer: idp.issuer, clientId: idp.clientId, scopes: LOGIN_SCOPES };
  }

  /**
   * Verifies the ID token and starts a session. Every bad token gets the same
   * Unauthenticated('invalid ID token'); the reason is audited, never returned. Refusals
   * and rate-limited calls are audited through the RefusalAuditor: a caller looping on
   * CreateSession gets one `rate limited` record per source per window, not one each.
   */
  async createSession(input: { idToken: string; nonce: string; tenant: string; requestId: string; source?: string }): Promise<StartedSession> {
    const { idp, tenant } = await this.resolve(input.tenant);
    const source = input.source ?? 'unknown';
    const keys = [`source:${source}`];
    const audit = (result: 'success' | 'failure', actor: string, target: string, details: Record<string, string>) =>
      this.o.audit.record({ tenantId: tenant.id, type: 'session.create', actor, target, result, requestId: input.requestId, details: { issuer: idp.issuer, ...(input.source ? { source: input.source } : {}), ...details } });
    const event: RefusalEvent = { type: 'session.create', requestId: input.requestId, source, credential: 'id token', target: 'session:?', fallbackReason: 'invalid ID token' };
    const subject = { tenantId: tenant.id, details: { issuer: idp.issuer } };
    try {
      this.o.limiter?.check(keys);
    } catch (err) {
      if (isMeziteError(err, 'ResourceExhausted')) await this.refusals.rateLimited(event, subject);
      throw err;
    }
    let id: VerifiedIdToken;
    try {
      id = await idp.verifier.verify(input.idToken, input.nonce);
    } catch (err) {
      if (isMeziteError(err, 'Unauthenticated')) {
        await this.o.limiter?.fail(keys);
        await this.refusals.refused(event, new Refusal(String((err.cause as Error | undefined)?.message ?? err.message).slice(0, 300), subject));
      }
      throw err;
    }
    const user = await this.o.tenants.ensureUser({ id: randomUUID(), tenantId: tenant.id, name: `oidc:${id.subject}`, roles: [], createdAt: this.o.clock.now() });
    // Subjects match exactly; emails ignoring case, and only when the provider verified them.
    const email = id.emailVerified ? id.email?.toLowerCase() : undefined;
    const isAdmin = idp.admins.some((a) => a === id.subject || (email !== undefined && a.toLowerCase() === email));
    const roles = [...new Set([...user.roles, ...(isAdmin ? [ADMIN_ROLE] : [])])];
    const started = await this.o.sessions.create({
      tenantId: tenant.id,
      principalKind: 'user',
      principalId: user.id,
      name: id.email ?? id.preferredUsername ?? id.name ?? id.subject,
      authMethod: 'interactive-session',
      roles,
      ...(id.acr ? { acr: id.acr } : {}),
      amr: id.amr,
      ttlMs: this.o.sessionTtlMs ?? HUMAN_SESSION_TTL_MS,
    });
    await audit('success', `user:${user.id}`, `session:${started.session.id}`, { subject: id.subject.slice(0, 255), acr: id.acr ?? '', amr: id.amr.join(','), roles: roles.join(',') });
    return started;
  }

  /** Ends the caller's own session (logout). Only a session can be ended this way. */
  async deleteSession(caller: Principal, requestId: string): Promise<void> {
    if (!caller.sessionId) throw failedPrecondition('this credential is not a session; only a session can be signed out');
    await this.o.sessions.revoke(caller.sessionId);
    await this.o.audit.record({ tenantId: caller.tenantId, type: 'session.delete', actor: formatIdentityRef(caller), target: `session:${caller.sessionId}`, result: 'success', requestId, details: {} });
  }

  /**
   * The tenant and its provider. An unknown tenant and a machine tenant (seed 000's
   * `svc-demo`, no human sign-in) get the same answer as a deployment without a
   * provider, so the call tells nobody which tenants exist.
   */
  private async resolve(domain: string): Promise<{ idp: HumanIdpConfig; tenant: Tenant }> {
    const refused = () => failedPrecondition('human sign-in is not configured for this tenant');
    const idp = this.o.idp;
    if (!idp) throw refused();
    const tenant = domain.length <= 63 ? await this.o.tenants.getTenantByDomain(domain || DEFAULT_TENANT) : null;
    if (!tenant || tenant.kind === 'machine') throw refused();
    return { idp, tenant };
  }
}
