import { createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock, type Principal } from '@mezite/identity';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { formatPublicKey, makeBoundKeypairCredential, parsePublicKey } from '@mezite/ssh';
import { MemoryAuditLog } from '../../store/memory-audit-log';
import { MemoryJoinTokenStore } from '../../store/memory-join-token-store';
import { MemoryRoleStore } from '../../store/memory-role-store';
import { MemoryBotStore } from '../../store/memory-bot-store';
import { newBot } from '../../store/bot-instance-store.contract';
import { createPrismaClient } from '../../store/prisma';
import { PrismaBotInstanceStore } from '../../store/prisma-bot-instance-store';
import { PrismaBotStore } from '../../store/prisma-bot-store';
import { PrismaJoinResourceStore } from '../../store/prisma-join-resource-store';
import { BotCertificates } from '../bot-certificates';
import { JoinManager } from '../join-manager';
import { RoleManager } from '../role-manager';
import { FakeCa } from '../test-doubles';
import { BoundKeypairJoinMethod } from './bound-keypair';
import { IdTokenVerifier, joinMethods } from '.';

const ROLE = 'kind: role\nmetadata:\n  name: ci-deployer\nspec:\n  allow:\n    logins: [deploy]\n';

/** A bound-keypair registration secret redeemed by 20 machines at once over two auth-server replicas on PostgreSQL: exactly one registers. */
describe('bound_keypair on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const clients: Array<ReturnType<typeof createPrismaClient>> = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', '..', 'migrations') });
    clients.push(createPrismaClient(db.url, 8), createPrismaClient(db.url, 8));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.$disconnect()));
    await db?.drop();
  });

  it('a registration secret reused concurrently: exactly one machine registers its key', async () => {
    const [a, b] = clients as [ReturnType<typeof createPrismaClient>, ReturnType<typeof createPrismaClient>];
    const tenantId = randomUUID();
    await a.tenant.create({ data: { id: tenantId, domain: 'default', kind: 'mixed' } });
    const bot = newBot(tenantId, 'host-bot');
    await new PrismaBotStore(a).create(bot);
    const clock = new FakeClock(new Date());
    const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: new MemoryBotStore(), clock });
    await roles.upsert(admin, { yaml: ROLE, fileName: 'role.yaml', force: false });
    const tokenHash = (s: string) => Buffer.from(createHmac('sha256', Buffer.alloc(32, 7)).update(s).digest());
    const prepared = await new BoundKeypairJoinMethod({ secretHash: tokenHash }).prepare({ registration_secret: 'generate' });
    const secret = prepared.shown.registration_secret as string;
    await new PrismaJoinResourceStore(a).create({ id: randomUUID(), tenantId, name: 'bk-host', botId: bot.id, botName: bot.name, joinMethod: 'bound_keypair', allow: [], audience: '', options: prepared.options, expiresAt: null, createdAt: clock.now(), updatedAt: clock.now(), revision: 1 });
    const tenants = { getTenantByDomain: async (d: string) => (d === 'default' ? { id: tenantId, domain: 'default', kind: 'mixed' as const, createdAt: new Date(0), machineIdp: { kind: 'builtin' } as never } : null) };
    const managers = [a, b].map((c) => {
      const instances = new PrismaBotInstanceStore(c);
      return new JoinManager({ bots: new PrismaBotStore(c), instances, tokens: new MemoryJoinTokenStore(), tokenHash, certs: new BotCertificates({ roles, ca: new FakeCa(clock), clock }), audit: new MemoryAuditLog(), clock, resources: new PrismaJoinResourceStore(c), methods: joinMethods({ verifier: new IdTokenVerifier(), secretHash: tokenHash }), tenants });
    });
    const attempt = (i: number) => {
      const cert = formatPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
      const idToken = makeBoundKeypairCredential({ joinKey: generateKeyPairSync('ed25519').privateKey, audience: 'mezite:default/bk-host', certPublicKeyBlob: parsePublicKey(cert).blob, timeMs: clock.now().getTime(), nonce: randomBytes(16), registrationSecret: secret });
      return (managers[i % 2] as JoinManager).join({ joinToken: 'bk-host', idToken, publicKey: cert, requestedTtlMs: 3600_000, requestId: randomUUID(), source: `198.51.100.${i + 1}` });
    };
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => attempt(i)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual(Array(19).fill('MeziteError: invalid join token'));
    expect(await new PrismaBotInstanceStore(b).list(tenantId, { limit: 100 })).toHaveLength(1);
    const stored = await new PrismaJoinResourceStore(b).get(tenantId, 'bk-host');
    expect(stored?.options.registration_secret_hash).toBeUndefined();
    expect(stored?.options.bound_public_key).toMatch(/^ssh-ed25519 /);
  }, 60_000);
});
