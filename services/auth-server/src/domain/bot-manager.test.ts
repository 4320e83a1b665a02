import { randomUUID } from 'node:crypto';
import { FakeClock, unavailable, type Principal } from '@mezite/identity';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import { BotManager } from './bot-manager';
import { RoleManager } from './role-manager';
import { MemoryJoinTokenStore } from '../store/memory-join-token-store';
import { JoinTokens } from './join-token';

const ROLE = `kind: role
metadata:
  name: deployer
spec:
  allow:
    logins: [deploy]
`;

describe('BotManager.create: the join token is minted before the bot is stored', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  let store: MemoryBotStore;
  let tokens: JoinTokens;
  let tokenStore: MemoryJoinTokenStore;
  const minted: string[] = [];
  let bots: BotManager;

  beforeEach(async () => {
    const clock = new FakeClock('2026-03-24T14:00:00Z');
    store = new MemoryBotStore();
    tokenStore = new MemoryJoinTokenStore();
    tokens = new JoinTokens({ store: tokenStore, clock, pepper: Buffer.alloc(32, 1) });
    minted.length = 0;
    const mint = tokens.create.bind(tokens);
    tokens.create = async (i) => {
      const t = await mint(i);
      minted.push(t.plaintext);
      return t;
    };
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: store, clock });
    await roles.upsert(admin, { yaml: ROLE, fileName: 'role.yaml', force: false });
    bots = new BotManager({ store, joinTokens: tokens, clock, roles });
  });

  test('a created bot has exactly one live join token for it', async () => {
    const r = await bots.create(admin, { name: 'ci', roles: ['deployer'], tokenTtlMs: 3600_000 });
    const t = await tokenStore.findByHash(tokens.hash(r.joinToken));
    expect(t).toMatchObject({ subjectId: r.bot.id, tenantId, subjectKind: 'bot', redeemedAt: null, revokedAt: null });
    expect(minted).toEqual([r.joinToken]);
    expect(await store.get(tenantId, 'ci')).toMatchObject({ id: r.bot.id });
  });

  test('when the token cannot be minted, no bot is stored (even if nothing could be cleaned up) and a retry succeeds', async () => {
    const create = tokens.create.bind(tokens);
    // PostgreSQL restarting: the mint fails, and so would any clean-up afterwards.
    tokens.create = async () => {
      throw unavailable('token-service is unavailable');
    };
    const remove = store.delete.bind(store);
    store.delete = async () => {
      throw unavailable('database is unavailable');
    };
    await expect(bots.create(admin, { name: 'ci', roles: ['deployer'], tokenTtlMs: 3600_000 })).rejects.toMatchObject({ code: 'Unavailable' });
    expect(await store.get(tenantId, 'ci')).toBeNull();
    tokens.create = create;
    store.delete = remove;
    await expect(bots.create(admin, { name: 'ci', roles: ['deployer'], tokenTtlMs: 3600_000 })).resolves.toMatchObject({ bot: { name: 'ci' } });
  });

  test('when the bot cannot be stored after its token was minted, the token is revoked and names no bot', async () => {
    store.create = async () => {
      throw unavailable('database is unavailable');
    };
    await expect(bots.create(admin, { name: 'ci', roles: ['deployer'], tokenTtlMs: 3600_000 })).rejects.toMatchObject({ code: 'Unavailable' });
    expect(minted).toHaveLength(1);
    const t = await tokenStore.findByHash(tokens.hash(minted[0]!));
    expect(t?.revokedAt).not.toBeNull();
    expect(await store.getById(tenantId, t!.subjectId)).toBeNull();
  });
});
