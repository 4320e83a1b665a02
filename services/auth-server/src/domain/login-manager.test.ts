import { randomBytes, randomUUID } from 'node:crypto';
import { FakeClock, unauthenticated, type Principal } from '@mezite/identity';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { FailureLimiter } from './failure-limiter';
import type { IdTokenVerifier, VerifiedIdToken } from './id-token-verifier';
import { HUMAN_SESSION_TTL_MS, LoginManager, type HumanIdpConfig } from './login-manager';
import { MemorySessionStore } from '../store/memory-session-store';
import { SessionManager } from './session-manager';
import type { Tenant, TenantStore, User } from './tenant';

/** Tenants and users in memory, with ensureUser's create-once semantics. */
class FakeTenants implements TenantStore {
  tenants: Tenant[] = [];
  users: User[] = [];
  async ensureTenant(t: Tenant) {
    return this.tenants.find((x) => x.domain === t.domain) ?? (this.tenants.push(t), t);
  }
  async getTenantByDomain(d: string) {
    return this.tenants.find((t) => t.domain === d) ?? null;
  }
  async getTenantById(id: string) {
    return this.tenants.find((t) => t.id === id) ?? null;
  }
  async setMachineIdp() {}
  async ensureUser(u: User) {
    return this.users.find((x) => x.tenantId === u.tenantId && x.name === u.name) ?? (this.users.push(u), u);
  }
}


/** Stands in for the provider: tokens are `good:<json of VerifiedIdToken fields>`. */
const verifier: IdTokenVerifier = {
  async verify(idToken, nonce) {
    if (!idToken.startsWith('good:') || nonce !== 'n') throw unauthenticated('invalid ID token', { cause: new Error('nonce mismatch') });
    return { issuer: 'https://idp.example', emailVerified: true, amr: [], ...(JSON.parse(idToken.slice(5)) as Partial<VerifiedIdToken>) } as VerifiedIdToken;
  },
};
const good = (claims: Partial<VerifiedIdToken>) => `good:${JSON.stringify(claims)}`;

describe('LoginManager', () => {
  let clock: FakeClock;
  let tenants: FakeTenants;
  let store: MemorySessionStore;
  let sessions: SessionManager;
  let audit: MemoryAuditLog;
  let def: Tenant;
  const idp: HumanIdpConfig = { issuer: 'https://idp.example', clientId: 'mezctl', verifier, admins: ['Boss@Example.com', 'sub-root'] };
  const make = (o: { idp?: HumanIdpConfig | undefined; limiter?: FailureLimiter } = {}) => new LoginManager({ idp: 'idp' in o ? o.idp : idp, tenants, sessions, audit, clock, ...(o.limiter ? { limiter: o.limiter } : {}) });
  const login = (m: LoginManager, idToken: string, tenant = '') => m.createSession({ idToken, nonce: 'n', tenant, requestId: 'r-1', source: '10.0.0.9' });

  beforeEach(async () => {
    clock = new FakeClock('2026-03-01T12:00:00Z');
    tenants = new FakeTenants();
    store = new MemorySessionStore();
    sessions = new SessionManager({ store, clock, pepper: randomBytes(32) });
    audit = new MemoryAuditLog();
    def = await tenants.ensureTenant({ id: randomUUID(), domain: 'default', kind: 'mixed', createdAt: clock.now(), machineIdp: { kind: 'builtin' } });
    await tenants.ensureTenant({ id: randomUUID(), domain: 'svc-demo', kind: 'machine', createdAt: clock.now(), machineIdp: { kind: 'builtin' } });
  });

  test('the login config names the issuer, the client and the scopes', async () => {
    expect(await make().loginConfig('')).toEqual({ issuer: 'https://idp.example', clientId: 'mezctl', scopes: ['openid', 'email', 'profile'] });
  });

  test.each([
    ['sign-in is off', undefined, ''],
    ['a machine tenant', idp, 'svc-demo'],
    ['an unknown tenant', idp, 'nope'],
  ])('%s: one FailedPrecondition for config and sign-in alike', async (_n, which, tenant) => {
    const m = make({ idp: which });
    const expected = { code: 'FailedPrecondition', message: 'human sign-in is not configured for this tenant' };
    await expect(m.loginConfig(tenant)).rejects.toMatchObject(expected);
    await expect(login(m, good({ subject: 's' }), tenant)).rejects.toMatchObject(expected);
  });

  test('a good ID token starts a 12 h interactive session for user oidc:<sub>, with acr and amr, audited', async () => {
    const r = await login(make(), good({ subject: 's-1', email: 'ada@example.com', acr: 'urn:acr:pwd', amr: ['pwd'] }));
    const user = tenants.users.find((u) => u.name === 'oidc:s-1');
    expect(r.session).toMatchObject({ tenantId: def.id, principalKind: 'user', principalId: user?.id, name: 'ada@example.com', authMethod: 'interactive-session', acr: 'urn:acr:pwd', amr: ['pwd'], roles: [] });
    expect(r.session.expiresAt.getTime() - clock.now().getTime()).toBe(HUMAN_SESSION_TTL_MS);
    const p = await sessions.authenticate(r.secret);
    expect(p).toMatchObject({ kind: 'user', id: user?.id, authMethod: 'interactive-session', acr: 'urn:acr:pwd', amr: ['pwd'], sessionId: r.session.id });
    expect(audit.events).toEqual([expect.objectContaining({ type: 'session.create', result: 'success', actor: `user:${user?.id}`, target: `session:${r.session.id}`, tenantId: def.id })]);
    // The secret never reaches the audit log.
    expect(JSON.stringify(audit.events)).not.toContain(r.secret);
  });

  test('the same person signing in again is the same user', async () => {
    const a = await login(make(), good({ subject: 's-1' }));
    const b = await login(make(), good({ subject: 's-1', email: 'changed@example.com' }));
    expect(b.session.principalId).toBe(a.session.principalId);
    expect(tenants.users).toHaveLength(1);
  });

  test.each([
    ['a listed subject', { subject: 'sub-root' }, ['admin']],
    ['a listed email, verified, any case', { subject: 's', email: 'boss@example.COM' }, ['admin']],
    ['a listed email the provider did not verify', { subject: 's', email: 'boss@example.com', emailVerified: false }, []],
    ['anyone else', { subject: 's', email: 'ada@example.com' }, []],
  ])('admin role: %s', async (_n, claims, roles) => {
    expect((await login(make(), good(claims as Partial<VerifiedIdToken>))).session.roles).toEqual(roles);
  });

  test('the display name falls back from email to preferred_username, name, then the subject', async () => {
    expect((await login(make(), good({ subject: 's', preferredUsername: 'ada' }))).session.name).toBe('ada');
    expect((await login(make(), good({ subject: 's', name: 'Ada L' }))).session.name).toBe('Ada L');
    expect((await login(make(), good({ subject: 's' }))).session.name).toBe('s');
  });

  test('a bad token: the one error to the caller, the reason in the audit log, counted per source', async () => {
    const limiter = new FailureLimiter({ clock, maxFailures: 2, windowMs: 60_000 });
    const m = make({ limiter });
    await expect(login(m, 'forged')).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid ID token' });
    expect(audit.events[0]).toMatchObject({ type: 'session.create', result: 'failure', actor: 'anonymous', details: { reason: 'nonce mismatch', source: '10.0.0.9' } });
    await expect(login(m, 'forged')).rejects.toMatchObject({ code: 'Unauthenticated' });
    await expect(login(m, good({ subject: 's' }))).rejects.toMatchObject({ code: 'ResourceExhausted' });
    expect(store.rows).toHaveLength(0);
  });

  test('a caller looping on a rate-limited CreateSession gets one `rate limited` audit record per source per minute, not one per call', async () => {
    const limiter = new FailureLimiter({ clock, maxFailures: 2, windowMs: 60_000 });
    const m = make({ limiter });
    for (let i = 0; i < 2; i++) await expect(login(m, 'forged')).rejects.toMatchObject({ code: 'Unauthenticated' });
    for (let i = 0; i < 1000; i++) await expect(login(m, good({ subject: 's' }))).rejects.toMatchObject({ code: 'ResourceExhausted' });
    const limited = () => audit.events.filter((e) => e.details.reason === 'rate limited');
    expect(limited()).toHaveLength(1);
    expect(limited()[0]).toMatchObject({ type: 'session.create', result: 'failure', actor: 'anonymous', tenantId: def.id, details: { source: '10.0.0.9', issuer: 'https://idp.example' } });
    expect(audit.events).toHaveLength(3);
    // Another source is its own; the next minute gets one record again.
    await expect(m.createSession({ idToken: 'forged', nonce: 'n', tenant: '', requestId: 'r-2', source: '10.0.0.10' })).rejects.toMatchObject({ code: 'Unauthenticated' });
    clock.advance(60_000);
    await login(m, 'forged').catch(() => undefined);
    await login(m, 'forged').catch(() => undefined);
    for (let i = 0; i < 100; i++) await login(m, 'forged').catch(() => undefined);
    expect(limited()).toHaveLength(2);
    expect(store.rows).toHaveLength(0);
  });

  test('logout revokes the caller’s session; an API token caller has none to end', async () => {
    const m = make();
    const r = await login(m, good({ subject: 's' }));
    const caller = await sessions.authenticate(r.secret);
    await m.deleteSession(caller, 'r-2');
    await expect(sessions.authenticate(r.secret)).rejects.toMatchObject({ code: 'Unauthenticated' });
    expect(audit.events.at(-1)).toMatchObject({ type: 'session.delete', actor: `user:${r.session.principalId}`, target: `session:${r.session.id}` });
    const apiCaller: Principal = { kind: 'service', id: randomUUID(), tenantId: def.id, name: 'svc', authMethod: 'api-token', roles: [] };
    await expect(m.deleteSession(apiCaller, 'r-3')).rejects.toMatchObject({ code: 'FailedPrecondition' });
  });
});
