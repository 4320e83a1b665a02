import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { FakeClock, isMeziteError, type Principal } from '@mezite/identity';
import { formatPublicKey } from '@mezite/ssh';
import { TestOidcIssuer, type Claims } from './test-issuer';
import { MemoryAuditLog } from '../../store/memory-audit-log';
import { MemoryBotStore } from '../../store/memory-bot-store';
import { MemoryJoinResourceStore } from '../../store/memory-join-resource-store';
import { MemoryRevocationStore } from '../../store/memory-node-store';
import { MemoryRoleStore } from '../../store/memory-role-store';
import { BotManager } from '../bot-manager';
import { JoinManager } from '../join-manager';
import { JoinResourceManager } from '../join-resource-manager';
import { RevocationList } from '../revocation';
import { RoleManager } from '../role-manager';
import { botWorld, FakeCa } from '../test-doubles';
import { IdTokenVerifier, joinMethods } from '.';

const ROLE = `kind: role
metadata:
  name: ci-deployer
spec:
  allow:
    logins: [deploy]
`;
const AUD = 'mezite:default/gha-deploy';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** The `github` method through JoinManager, against a test issuer on 127.0.0.1: the attack cases, each its own test. */
describe('github join method', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  let issuer: TestOidcIssuer;
  let clock: FakeClock;
  let audit: MemoryAuditLog;
  let joins: JoinManager;
  let world: ReturnType<typeof botWorld>;
  let resources: JoinResourceManager;
  let verifier: IdTokenVerifier;
  let botManager: BotManager;

  const tokenYaml = (extra = '', allow = '    - repository: octo-org/octo-repo\n      ref: refs/heads/main\n      environment: production\n') =>
    `kind: join_token\nmetadata:\n  name: gha-deploy\nspec:\n  bot: github-deploy\n  join_method: github\n  allow:\n${allow}  github:\n    issuer: ${issuer.url}\n${extra}`;

  beforeAll(async () => {
    issuer = await TestOidcIssuer.start();
  });
  afterAll(async () => issuer.stop());

  beforeEach(async () => {
    issuer.down = false;
    clock = new FakeClock(new Date());
    audit = new MemoryAuditLog();
    const ca = new FakeCa(clock);
    const botStore = new MemoryBotStore();
    const revStore = new MemoryRevocationStore();
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
    const krl = new RevocationList({ store: revStore, bots: botStore, ca, clock, cacheMs: 0 });
    await roles.upsert(admin, { yaml: ROLE, fileName: 'role.yaml', force: false });
    world = botWorld({ clock, ca, roles, botStore, audit, revocations: krl, revocationStore: revStore });
    const bots = new BotManager({ store: botStore, instances: world.instances, joinTokens: world.joinTokens, clock, roles, revocations: krl });
    botManager = bots;
    await bots.create(admin, { name: 'github-deploy', roles: ['ci-deployer'], tokenTtlMs: 3600_000 });
    verifier = new IdTokenVerifier({ cooldownMs: 0 });
    const methods = joinMethods({ verifier });
    const store = new MemoryJoinResourceStore({ instances: world.instances });
    resources = new JoinResourceManager({ store, bots: botStore, methods, clock });
    const tenants = { getTenantByDomain: async (d: string) => (d === 'default' ? { id: tenantId, domain: 'default', kind: 'mixed' as const, createdAt: new Date(0), machineIdp: { kind: 'builtin' } as never } : null) };
    joins = new JoinManager({ bots: botStore, instances: world.instances, tokens: world.tokenStore, tokenHash: world.tokenHash, certs: world.certs, audit, clock, resources: store, methods, tenants });
    await resources.upsert(admin, { yaml: tokenYaml(), fileName: 'token.yaml', force: false });
  });

  const prodClaims = (over: Claims = {}) => issuer.githubClaims({ aud: AUD, environment: 'production', sub: 'repo:octo-org/octo-repo:environment:production', ...over });
  const join = (idToken: string, name = 'gha-deploy') => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return joins.join({ joinToken: name, idToken, publicKey: formatPublicKey(key.publicKey), requestedTtlMs: 3600_000, requestId: randomUUID(), source: '198.51.100.9' });
  };
  /** The join is refused with the one public answer, and the audit log has the precise reason. */
  const refusedWith = async (idToken: string, reason: string, detail?: RegExp) => {
    const had = (await world.instances.list(tenantId, { limit: 10 })).length;
    const err = await join(idToken).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMeziteError(err, 'Unauthenticated')).toBe(true);
    expect((err as Error).message).toBe('invalid join token');
    const rec = audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure').pop();
    expect(rec?.details.reason).toBe(reason);
    if (detail) expect(JSON.stringify(rec?.details)).toMatch(detail);
    expect(await world.instances.list(tenantId, { limit: 10 })).toHaveLength(had);
  };

  test('a job of the allowed repository, ref and environment joins as a new instance, audited with its claims', async () => {
    const r = await join(await issuer.mint(prodClaims()));
    expect(r.botName).toBe('github-deploy');
    expect(r.generation).toBe(1);
    const inst = await world.instances.get(tenantId, r.instanceId);
    expect(inst?.joinMethod).toBe('github');
    const rec = audit.events.find((e) => e.type === 'bot.join' && e.result === 'success');
    expect(rec?.details).toMatchObject({ join_method: 'github', join_token: 'gha-deploy', repository: 'octo-org/octo-repo', environment: 'production', instance: r.instanceId });
  });

  test('two runs are two instances', async () => {
    const a = await join(await issuer.mint(prodClaims()));
    const b = await join(await issuer.mint(prodClaims()));
    expect(a.instanceId).not.toBe(b.instanceId);
    expect(await world.instances.list(tenantId, { limit: 10 })).toHaveLength(2);
  });

  test('wrong repository is refused, the audit names the claim and its value', async () => {
    await refusedWith(await issuer.mint(prodClaims({ repository: 'evil-org/octo-repo' })), 'no allow rule matched', /repository: wanted \\"octo-org\/octo-repo\\", got \\"evil-org\/octo-repo\\"/);
  });

  test('wrong ref is refused', async () => {
    await refusedWith(await issuer.mint(prodClaims({ ref: 'refs/heads/feature' })), 'no allow rule matched', /ref: wanted/);
  });

  test('wrong or missing environment is refused', async () => {
    await refusedWith(await issuer.mint(prodClaims({ environment: 'staging' })), 'no allow rule matched', /environment/);
    await refusedWith(await issuer.mint(prodClaims({ environment: undefined })), 'no allow rule matched', /environment: wanted \\"production\\", got no claim/);
  });

  test('wrong audience is refused (a token minted for another service)', async () => {
    await refusedWith(await issuer.mint(prodClaims({ aud: 'https://github.com/octo-org' })), 'audience mismatch');
  });

  test('an expired token is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refusedWith(await issuer.mint(prodClaims({ iat: now - 600, nbf: now - 900, exp: now - 300 })), 'id token expired');
  });

  test('a token not yet valid is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refusedWith(await issuer.mint(prodClaims({ nbf: now + 120 })), 'id token not yet valid');
  });

  test('the same ID token cannot join twice (jti remembered)', async () => {
    const t = await issuer.mint(prodClaims());
    await join(t);
    const err = await join(t).catch((e: unknown) => e);
    expect(isMeziteError(err, 'Unauthenticated')).toBe(true);
    expect(audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure').pop()?.details.reason).toBe('replayed id token');
    expect(await world.instances.list(tenantId, { limit: 10 })).toHaveLength(1);
  });

  test('a retry of a lost answer (same ID token, same key) gets the same certificate, not a second instance', async () => {
    const t = await issuer.mint(prodClaims());
    const key = formatPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const once = () => joins.join({ joinToken: 'gha-deploy', idToken: t, publicKey: key, requestedTtlMs: 3600_000, requestId: randomUUID(), source: '198.51.100.9' });
    const first = await once();
    const again = await once();
    expect(again).toMatchObject({ instanceId: first.instanceId, certificate: first.certificate, generation: 1 });
    expect(await world.instances.list(tenantId, { limit: 10 })).toHaveLength(1);
    expect(audit.events.filter((e) => e.type === 'bot.join' && e.result === 'success').pop()?.details.replay).toBe('true');
  });

  test('alg none is refused', async () => {
    await refusedWith(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(prodClaims())}.`, 'algorithm not allowed');
  });

  test('HS256 signed with the issuer public key as the secret is refused', async () => {
    const jwk = issuer.jwks().keys[0];
    const head = `${b64({ alg: 'HS256', typ: 'JWT', kid: jwk?.kid })}.${b64(prodClaims())}`;
    const sig = createHmac('sha256', JSON.stringify(jwk)).update(head).digest('base64url');
    await refusedWith(`${head}.${sig}`, 'algorithm not allowed');
  });

  test('an unknown kid is refused after one refetch of the JWKS', async () => {
    await join(await issuer.mint(prodClaims()));
    const before = issuer.jwksFetches;
    await refusedWith(await issuer.mint(prodClaims(), { header: { kid: 'not-a-key-of-the-issuer' } }), 'unknown signing key');
    expect(issuer.jwksFetches).toBe(before + 1);
  });

  test('a rotated key is found by refetching on its unknown kid', async () => {
    await join(await issuer.mint(prodClaims()));
    await issuer.rotate();
    await expect(join(await issuer.mint(prodClaims()))).resolves.toMatchObject({ generation: 1 });
  });

  test('an issuer mismatch is refused', async () => {
    await refusedWith(await issuer.mint(prodClaims({ iss: 'https://token.actions.githubusercontent.com' })), 'issuer mismatch');
  });

  test('a JWKS endpoint that is down fails closed: Unavailable, never a join', async () => {
    issuer.down = true;
    const fresh = new JoinManager({ ...(joins as unknown as { o: ConstructorParameters<typeof JoinManager>[0] }).o, methods: joinMethods({ verifier: new IdTokenVerifier() }) });
    const err = await fresh.join({ joinToken: 'gha-deploy', idToken: await issuer.mint(prodClaims()), publicKey: formatPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), requestedTtlMs: 3600_000, requestId: randomUUID(), source: '198.51.100.9' }).catch((e: unknown) => e);
    expect(isMeziteError(err, 'Unavailable')).toBe(true);
    expect(await world.instances.list(tenantId, { limit: 10 })).toHaveLength(0);
  });

  test('a huge token is refused before parsing', async () => {
    await refusedWith(`${'a'.repeat(20_000)}.${'b'.repeat(20_000)}.c`, 'id token too large');
  });

  test('a malformed token is refused', async () => {
    await refusedWith('not-a-jwt', 'malformed id token');
    await refusedWith(`${b64({ alg: 'RS256' }).slice(0, 5)}.e30.xx`, 'malformed id token');
  });

  test('an unknown resource and another tenant are the same refusal', async () => {
    const t = await issuer.mint(prodClaims());
    for (const name of ['nope', 'other-tenant/gha-deploy', '../x']) {
      const err = await join(t, name).catch((e: unknown) => e);
      expect((err as Error).message).toBe('invalid join token');
    }
  });

  test('a one-time token sent as the resource name is refused and never written to the audit log', async () => {
    const secret = `tok-bot-${'ab'.repeat(16)}`;
    const err = await join(await issuer.mint(prodClaims()), secret).catch((e: unknown) => e);
    expect((err as Error).message).toBe('invalid join token');
    expect(JSON.stringify(audit.events)).not.toContain(secret);
  });

  test('a locked bot cannot join by a delegated method either', async () => {
    await botManager.lock(admin, 'github-deploy', { reason: 'incident', ttlMs: 0 });
    await expect(join(await issuer.mint(prodClaims()))).rejects.toMatchObject({ code: 'PermissionDenied' });
    expect(await world.instances.list(tenantId, { limit: 10 })).toHaveLength(0);
  });

  test('an expired resource admits nobody', async () => {
    await resources.upsert(admin, { yaml: tokenYaml().replace('  join_method: github\n', '  join_method: github\n  expires: 2020-01-01T00:00:00Z\n'), fileName: 'token.yaml', force: true });
    await refusedWith(await issuer.mint(prodClaims()), 'expired join token');
  });

  test('refusals from one source are audited within the bound (30 a minute, then one note)', async () => {
    const bad = await issuer.mint(prodClaims({ repository: 'evil-org/octo-repo' }));
    for (let i = 0; i < 50; i++) await join(bad).catch(() => undefined);
    const records = audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure');
    expect(records.length).toBeLessThanOrEqual(31);
    expect(records.at(-1)?.details.reason).toBe('audit limit reached');
  });

  test('a static JWKS verifies without fetching', async () => {
    await resources.upsert(admin, { yaml: tokenYaml(`    static_jwks: '${JSON.stringify(issuer.jwks())}'\n`), fileName: 'token.yaml', force: true });
    issuer.down = true;
    const before = issuer.jwksFetches;
    await expect(join(await issuer.mint(prodClaims()))).resolves.toMatchObject({ generation: 1 });
    expect(issuer.jwksFetches).toBe(before);
  });

  test('a rule that pins no repository, owner or subject is refused when stored', async () => {
    await expect(resources.upsert(admin, { yaml: tokenYaml('', '    - ref: refs/heads/main\n'), fileName: 'token.yaml', force: true })).rejects.toThrow(/name at least one of sub, repository, repository_owner/);
    await expect(resources.upsert(admin, { yaml: tokenYaml('', '    - repository: a/b\n      reff: x\n'), fileName: 'token.yaml', force: true })).rejects.toThrow(/spec.allow\[0\].reff: not a github claim/);
  });
});
