import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { FakeClock, isMeziteError, type Principal } from '@mezite/identity';
import { formatPublicKey } from '@mezite/ssh';
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

const ROLE = 'kind: role\nmetadata:\n  name: ci-deployer\nspec:\n  allow:\n    logins: [deploy]\n';

/** A tenant `default` with the bot `github-deploy`, a join-token resource from `yaml`, and a JoinManager for delegated joins (unit tests of the methods). */
export async function delegatedWorld(yaml: string) {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  const clock = new FakeClock(new Date());
  const audit = new MemoryAuditLog();
  const ca = new FakeCa(clock);
  const botStore = new MemoryBotStore();
  const revStore = new MemoryRevocationStore();
  const roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
  const krl = new RevocationList({ store: revStore, bots: botStore, ca, clock, cacheMs: 0 });
  await roles.upsert(admin, { yaml: ROLE, fileName: 'role.yaml', force: false });
  const world = botWorld({ clock, ca, roles, botStore, audit, revocations: krl, revocationStore: revStore });
  const bots = new BotManager({ store: botStore, instances: world.instances, joinTokens: world.joinTokens, clock, roles, revocations: krl });
  await bots.create(admin, { name: 'github-deploy', roles: ['ci-deployer'], tokenTtlMs: 3600_000 });
  const methods = joinMethods({ verifier: new IdTokenVerifier({ cooldownMs: 0 }), secretHash: world.tokenHash });
  const store = new MemoryJoinResourceStore({ instances: world.instances });
  const resources = new JoinResourceManager({ store, bots: botStore, methods, clock });
  const tenants = { getTenantByDomain: async (d: string) => (d === 'default' ? { id: tenantId, domain: 'default', kind: 'mixed' as const, createdAt: new Date(0), machineIdp: { kind: 'builtin' } as never } : null) };
  const joins = new JoinManager({ bots: botStore, instances: world.instances, tokens: world.tokenStore, tokenHash: world.tokenHash, certs: world.certs, audit, clock, resources: store, methods, tenants });
  const resource = await resources.upsert(admin, { yaml, fileName: 'token.yaml', force: false });
  const join = (idToken: string, name = resource.resource.name) =>
    joins.join({ joinToken: name, idToken, publicKey: formatPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey), requestedTtlMs: 3600_000, requestId: randomUUID(), source: '198.51.100.9' });
  const instances = async () => world.instances.list(tenantId, { limit: 100 });
  /** Refused with the one public answer; returns the audited reason and details. */
  const refusal = async (idToken: string): Promise<Record<string, string>> => {
    const had = (await instances()).length;
    const err = await join(idToken).then(
      () => null,
      (e: unknown) => e,
    );
    if (!isMeziteError(err, 'Unauthenticated') || err.message !== 'invalid join token') throw new Error(`expected the one refusal, got ${String(err)}`);
    if ((await instances()).length !== had) throw new Error('a refused join created an instance');
    return audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure').pop()?.details ?? {};
  };
  return { tenantId, admin, audit, join, instances, refusal, resources, clock, joins, world, store };
}
