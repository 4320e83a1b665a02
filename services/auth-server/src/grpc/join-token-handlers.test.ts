import { randomUUID } from 'node:crypto';
import { FakeClock, type Principal } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import type { CallContext } from 'nice-grpc';
import { IdTokenVerifier, joinMethods } from '../domain/join-methods';
import { JoinResourceManager } from '../domain/join-resource-manager';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryJoinResourceStore } from '../store/memory-join-resource-store';
import type { AuthContext } from './auth-middleware';
import { joinTokenHandlers } from './join-token-handlers';

const YAML = 'kind: join_token\nmetadata:\n  name: gha-deploy\nspec:\n  bot: ci\n  join_method: github\n  allow:\n    - repository: octo-org/octo-repo\n';

/** JoinTokenService: admins only, every change audited before it happens, the method's own checks at the edge. */
describe('JoinTokenService handlers', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'interactive-session', roles: ['admin'] };
  const bot: Principal = { kind: 'service', id: randomUUID(), tenantId, name: 'ci', authMethod: 'bot-certificate', roles: ['deployer'] };
  const ctx = (principal: Principal = admin, requestId: string = randomUUID()) => ({ principal, requestId, log: nullLogger }) as unknown as AuthContext & CallContext;
  let audit: MemoryAuditLog;
  let store: MemoryJoinResourceStore;
  let h: ReturnType<typeof joinTokenHandlers>;

  beforeEach(async () => {
    const clock = new FakeClock('2026-12-07T06:00:00Z');
    audit = new MemoryAuditLog();
    const bots = new MemoryBotStore();
    await bots.create({ id: randomUUID(), tenantId, name: 'ci', roles: ['deployer'], createdAt: clock.now(), generation: 0, lastSeenAt: null, certExpiresAt: null, lock: null, maxCertTtlMs: null });
    store = new MemoryJoinResourceStore();
    h = joinTokenHandlers(new JoinResourceManager({ store, bots, methods: joinMethods({ verifier: new IdTokenVerifier() }), clock }), audit, async () => 'default');
  });

  test('an admin creates, reads, lists and removes; the default audience is shown', async () => {
    const r = await h.upsertJoinToken!({ yaml: YAML, fileName: 'token.yaml', force: false }, ctx(admin, 'r1'));
    expect(r).toMatchObject({ name: 'gha-deploy', bot: 'ci', joinMethod: 'github', audience: 'mezite:default/gha-deploy', allow: [{ claims: { repository: 'octo-org/octo-repo' } }], revision: 1 });
    expect(audit.events.map((e) => [e.requestId, e.type, e.result])).toEqual([
      ['r1', 'join_token.upsert', 'requested'],
      ['r1', 'join_token.create', 'success'],
    ]);
    expect(((await h.listJoinTokens!({ pageSize: 0, pageToken: '' }, ctx())).joinTokens ?? []).map((x) => x?.name)).toEqual(['gha-deploy']);
    await h.deleteJoinToken!({ name: 'gha-deploy' }, ctx());
    await expect(h.getJoinToken!({ name: 'gha-deploy' }, ctx())).rejects.toMatchObject({ code: 'NotFound' });
  });

  test('a non-admin is refused every call', async () => {
    await expect(h.upsertJoinToken!({ yaml: YAML, fileName: 'token.yaml', force: false }, ctx(bot))).rejects.toMatchObject({ code: 'PermissionDenied' });
    await expect(h.listJoinTokens!({ pageSize: 0, pageToken: '' }, ctx(bot))).rejects.toMatchObject({ code: 'PermissionDenied' });
    await expect(h.deleteJoinToken!({ name: 'gha-deploy' }, ctx(bot))).rejects.toMatchObject({ code: 'PermissionDenied' });
  });

  test('the audit log is down, so nothing is created', async () => {
    audit.failNext = true;
    await expect(h.upsertJoinToken!({ yaml: YAML, fileName: 'token.yaml', force: false }, ctx())).rejects.toThrow(/audit store down/);
    expect(await store.get(tenantId, 'gha-deploy')).toBeNull();
  });

  test.each([
    ['an unknown method', YAML.replace('github', 'carrier_pigeon'), /unknown method "carrier_pigeon"/],
    ['the token method (not a resource)', YAML.replace('github', 'token'), /one-time tokens are minted/],
    ['a typo in a field', YAML.replace('allow:', 'alow:'), /spec.alow: unknown field/],
    ['a rule without a repository, owner or subject', YAML.replace('repository: octo-org/octo-repo', 'ref: refs/heads/main'), /name at least one of/],
    ['an http issuer off this machine', `${YAML}  github:\n    issuer: http://issuer.example.com\n`, /must be an https URL/],
    ['a static JWKS jose cannot use', `${YAML}  github:\n    static_jwks: '{"keys": [{"kty": "RSA"}]}'\n`, /static_jwks: not a valid JWKS/],
    ['a static JWKS with a secret key', `${YAML}  github:\n    static_jwks: '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'\n`, /holds private or secret key material/],
  ])('%s is InvalidArgument, naming the file', async (_, yaml, msg) => {
    await expect(h.upsertJoinToken!({ yaml, fileName: 'token.yaml', force: false }, ctx())).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(msg) });
  });

  test('an unknown bot is NotFound', async () => {
    await expect(h.upsertJoinToken!({ yaml: YAML.replace('bot: ci', 'bot: nope'), fileName: 'token.yaml', force: false }, ctx())).rejects.toMatchObject({ code: 'NotFound' });
  });
});
