import { generateKeyPairSync, randomUUID } from 'node:crypto';
import * as fc from 'fast-check';
import { FakeClock, isMeziteError, type Principal } from '@mezite/identity';
import { assertAsyncProperty, assertProperty } from '@mezite/identity/testing';
import { formatPublicKey } from '@mezite/ssh';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import { BotManager } from './bot-manager';
import { JOIN_TOKEN_PATTERN } from './join-token';
import { RoleManager } from './role-manager';
import { botWorld, FakeCa } from './test-doubles';

/**
 * A join token is the first thing an anonymous caller hands the auth server. Whatever
 * string it is, the join is refused with the one answer (Unauthenticated, `invalid join
 * token`) — never another error, never a certificate — unless it is a token the server
 * minted; and the pattern accepts exactly `tok-bot-`/`tok-node-` and 32 lower-case hex.
 */
describe('join tokens from hostile callers', () => {
  test('the pattern accepts exactly tok-(bot|node)- and 32 lower-case hex digits', () => {
    const hex = fc.stringMatching(/^[0-9a-f]{32}$/);
    assertProperty(
      fc.property(fc.constantFrom('bot', 'node'), hex, (kind, h) => {
        expect(JOIN_TOKEN_PATTERN.test(`tok-${kind}-${h}`)).toBe(true);
      }),
      { numRuns: 500 },
    );
    assertProperty(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        expect(JOIN_TOKEN_PATTERN.test(s)).toBe(/^tok-(bot|node)-[0-9a-f]{32}$/.test(s));
        expect(JOIN_TOKEN_PATTERN.test(`${s}tok-bot-${'a'.repeat(32)}`)).toBe(s === '');
      }),
      { numRuns: 1000 },
    );
  });

  test('any string as a join token gets the one refusal, and a minted token still joins afterwards', async () => {
    const clock = new FakeClock('2026-03-24T14:00:00Z');
    const ca = new FakeCa(clock);
    const audit = new MemoryAuditLog();
    const botStore = new MemoryBotStore();
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
    const admin: Principal = { kind: 'user', id: randomUUID(), tenantId: randomUUID(), name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
    await roles.upsert(admin, { yaml: 'kind: role\nmetadata:\n  name: r\nspec:\n  allow:\n    logins: [deploy]\n', fileName: 'role.yaml', force: false });
    const world = botWorld({ clock, ca, roles, botStore, audit });
    const bots = new BotManager({ store: botStore, instances: world.instances, joinTokens: world.joinTokens, clock, roles });
    const minted = (await bots.create(admin, { name: 'b', roles: ['r'], tokenTtlMs: 3600_000 })).joinToken;
    const key = formatPublicKey(generateKeyPairSync('ed25519').publicKey);
    const token = fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^tok-(bot|node)-[0-9a-f]{32}$/), fc.constant(minted.toUpperCase()), fc.constant(`${minted} `), fc.constant(minted.slice(0, -1)));
    await assertAsyncProperty(
      fc.asyncProperty(token, async (t) => {
        const err = await world.joins.join({ joinToken: t, publicKey: key, requestedTtlMs: 3600_000, requestId: randomUUID(), source: '203.0.113.9' }).then(
          () => new Error('joined'),
          (e: unknown) => e,
        );
        expect(isMeziteError(err, 'Unauthenticated')).toBe(true);
        expect((err as Error).message).toBe('invalid join token');
      }),
      { numRuns: 300 },
    );
    expect(ca.log).toEqual([]);
    await expect(world.joins.join({ joinToken: minted, publicKey: key, requestedTtlMs: 3600_000, requestId: randomUUID(), source: '203.0.113.9' })).resolves.toMatchObject({ generation: 1 });
  });
});
