import { randomUUID } from 'node:crypto';
import { FakeClock, notFound, unavailable, type Principal } from '@mezite/identity';
import type { ApiTokenClient, ApiTokenInfo } from './api-token-client';
import type { ServiceIdentity, ServiceIdentityStore } from './service-identity';
import { ServiceIdentityManager } from './service-identity-manager';

const tenantId = randomUUID();
const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };

/** token-service as ServiceIdentityManager sees it: secrets by client id, live tokens by identity. */
function fakeTokenService() {
  const secrets = new Map<string, string>();
  const tokens = new Map<string, { info: ApiTokenInfo; revoked: boolean }>();
  const calls: string[] = [];
  let failDeletes = false;
  const client: Pick<ApiTokenClient, 'setClientSecret' | 'deleteClientSecret' | 'list' | 'delete'> = {
    setClientSecret: async (i) => {
      secrets.set(i.clientId, i.serviceIdentityId);
      return 'secret';
    },
    deleteClientSecret: async (clientId) => {
      calls.push(`deleteClientSecret ${clientId}`);
      if (!secrets.delete(clientId)) throw notFound('client secret not found');
    },
    list: async (_t, identityId) => [...tokens.values()].filter((t) => t.info.identityId === identityId && !t.revoked).map((t) => t.info),
    delete: async (i) => {
      calls.push(`delete ${i.id}`);
      if (failDeletes) throw unavailable('token-service is unavailable');
      const t = tokens.get(i.id);
      if (t) t.revoked = true;
    },
  };
  const mint = (identityId: string) => {
    const id = randomUUID();
    tokens.set(id, { info: { id, tenantId, identityKind: 'service', identityId, env: 'live', createdAt: new Date(), expiresAt: new Date(Date.now() + 3600_000), rotationDeadline: null } as unknown as ApiTokenInfo, revoked: false });
    return id;
  };
  return { client, secrets, tokens, calls, mint, failDeletes: (v: boolean) => (failDeletes = v) };
}

function memoryStore(): ServiceIdentityStore {
  const rows = new Map<string, ServiceIdentity>();
  return {
    create: async (s) => void rows.set(s.id, s),
    get: async (t, name) => [...rows.values()].find((s) => s.tenantId === t && s.name === name) ?? null,
    getById: async (t, id) => (rows.get(id)?.tenantId === t ? rows.get(id)! : null),
    getByClientId: async (c) => [...rows.values()].find((s) => s.clientId === c) ?? null,
    list: async (t) => [...rows.values()].filter((s) => s.tenantId === t),
    delete: async (_t, id) => rows.delete(id),
  };
}

describe('ServiceIdentityManager.delete', () => {
  test('revokes the client secret and every API token of the identity, then removes it; other identities keep theirs', async () => {
    const ts = fakeTokenService();
    const store = memoryStore();
    const m = new ServiceIdentityManager({ store, secrets: ts.client, clock: new FakeClock() });
    const { identity } = await m.create(tenantId, { name: 'deployer' });
    const { identity: other } = await m.create(tenantId, { name: 'reporter' });
    const mine = [ts.mint(identity.id), ts.mint(identity.id)];
    const theirs = ts.mint(other.id);

    await m.delete(admin, 'deployer', 'req-1');

    expect(ts.calls[0]).toBe('deleteClientSecret deployer');
    expect(mine.map((id) => ts.tokens.get(id)?.revoked)).toEqual([true, true]);
    expect(ts.tokens.get(theirs)?.revoked).toBe(false);
    expect(ts.secrets.has('deployer')).toBe(false);
    expect(await store.getById(tenantId, identity.id)).toBeNull();
    await expect(m.delete(admin, 'deployer')).rejects.toMatchObject({ code: 'NotFound' });
  });

  test('when a token cannot be revoked, the identity stays (so the admin can retry), and the retry finishes the job', async () => {
    const ts = fakeTokenService();
    const store = memoryStore();
    const m = new ServiceIdentityManager({ store, secrets: ts.client, clock: new FakeClock() });
    const { identity } = await m.create(tenantId, { name: 'deployer' });
    const token = ts.mint(identity.id);
    ts.failDeletes(true);
    await expect(m.delete(admin, 'deployer')).rejects.toMatchObject({ code: 'Unavailable' });
    expect(await store.getById(tenantId, identity.id)).not.toBeNull();
    ts.failDeletes(false);
    // The secret is gone already: the retry takes that as done.
    await m.delete(admin, 'deployer');
    expect(ts.tokens.get(token)?.revoked).toBe(true);
    expect(await store.getById(tenantId, identity.id)).toBeNull();
  });
});

describe('ServiceIdentityManager.rotateSecret', () => {
  test('without revokeTokens: a new secret, and the tokens it was issued stay valid (as before)', async () => {
    const ts = fakeTokenService();
    const m = new ServiceIdentityManager({ store: memoryStore(), secrets: ts.client, clock: new FakeClock() });
    const { identity } = await m.create(tenantId, { name: 'deployer' });
    const held = [ts.mint(identity.id), ts.mint(identity.id)];
    const r = await m.rotateSecret(admin, 'deployer');
    expect(r).toMatchObject({ identity: { id: identity.id }, clientSecret: 'secret', revokedTokens: 0 });
    expect(held.map((id) => ts.tokens.get(id)?.revoked)).toEqual([false, false]);
    expect(ts.calls.filter((c) => c.startsWith('delete '))).toEqual([]);
  });

  test('with revokeTokens: the secret is replaced first, then every live token of the identity is revoked; other identities keep theirs (issue 14)', async () => {
    const ts = fakeTokenService();
    const m = new ServiceIdentityManager({ store: memoryStore(), secrets: ts.client, clock: new FakeClock() });
    const { identity } = await m.create(tenantId, { name: 'deployer' });
    const { identity: other } = await m.create(tenantId, { name: 'reporter' });
    const held = [ts.mint(identity.id), ts.mint(identity.id), ts.mint(identity.id)];
    const theirs = ts.mint(other.id);
    const order: string[] = [];
    const set = ts.client.setClientSecret;
    ts.client.setClientSecret = async (i) => {
      order.push('setClientSecret');
      return set(i);
    };
    const del = ts.client.delete;
    ts.client.delete = async (i) => {
      order.push('delete');
      return del(i);
    };
    const r = await m.rotateSecret(admin, 'deployer', { revokeTokens: true, requestId: 'req-2' });
    expect(r.revokedTokens).toBe(3);
    expect(order).toEqual(['setClientSecret', 'delete', 'delete', 'delete']);
    expect(held.map((id) => ts.tokens.get(id)?.revoked)).toEqual([true, true, true]);
    expect(ts.tokens.get(theirs)?.revoked).toBe(false);
  });

  test('with revokeTokens, a token that cannot be revoked fails the call; the retry finishes it', async () => {
    const ts = fakeTokenService();
    const m = new ServiceIdentityManager({ store: memoryStore(), secrets: ts.client, clock: new FakeClock() });
    const { identity } = await m.create(tenantId, { name: 'deployer' });
    const token = ts.mint(identity.id);
    ts.failDeletes(true);
    await expect(m.rotateSecret(admin, 'deployer', { revokeTokens: true })).rejects.toMatchObject({ code: 'Unavailable' });
    ts.failDeletes(false);
    await m.rotateSecret(admin, 'deployer', { revokeTokens: true });
    expect(ts.tokens.get(token)?.revoked).toBe(true);
  });
});

describe('ServiceIdentityManager.ensure (the demo fixtures at every start)', () => {
  test('creates the identity with the fixture secret once; a later start leaves a rotated secret alone', async () => {
    const ts = fakeTokenService();
    const set: Array<string | undefined> = [];
    const client = { ...ts.client, setClientSecret: async (i: Parameters<typeof ts.client.setClientSecret>[0]) => (set.push(i.secret), ts.client.setClientSecret(i)) };
    const store = memoryStore();
    const m = new ServiceIdentityManager({ store, secrets: client, clock: new FakeClock() });
    const first = await m.ensure(tenantId, { name: 'svc-deployer', clientId: 'svc-deployer', secret: 'svc-deployer-demo-secret' });
    expect(set).toEqual(['svc-deployer-demo-secret']);
    await m.rotateSecret(admin, 'svc-deployer');
    expect(set).toEqual(['svc-deployer-demo-secret', undefined]);
    const again = await m.ensure(tenantId, { name: 'svc-deployer', clientId: 'svc-deployer', secret: 'svc-deployer-demo-secret' });
    expect(again.id).toBe(first.id);
    expect(set).toEqual(['svc-deployer-demo-secret', undefined]);
  });
});
