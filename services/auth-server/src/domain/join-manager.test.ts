import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { FakeClock, isMeziteError, keyRing, type KeyRing, type Principal } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import { encodePublicKey, formatPublicKey, generateCaKey, parseCertificate, parsePublicKey, signBotRenewal, signCertificate } from '@mezite/ssh';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryRevocationStore } from '../store/memory-node-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import { BotManager } from './bot-manager';
import { JoinManager, MEZITE_EXTENSION } from './join-manager';
import { JoinTokens } from './join-token';
import { RefusalAuditor } from './refusal-auditor';
import { RevocationList } from './revocation';
import { RoleManager } from './role-manager';
import { botWorld, FakeCa } from './test-doubles';

const SEED_ROLE = `kind: role
metadata:
  name: ci-deployer
spec:
  options:
    max_session_ttl: 4h
  allow:
    node_labels:
      env: [staging, production]
    logins: [deploy]
  deny:
    logins: [root]
`;

function keyPair(): { line: string; privateKey: KeyObject } {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { line: formatPublicKey(k.publicKey), privateKey: k.privateKey };
}

type Held = { certificate: string; key: { line: string; privateKey: KeyObject }; instanceId: string; generation: number };

describe('JoinManager: instances, one-call renewal, exact copy detection', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  let clock: FakeClock;
  let ca: FakeCa;
  let audit: MemoryAuditLog;
  let bots: BotManager;
  let joins: JoinManager;
  let botStore: MemoryBotStore;
  let world: ReturnType<typeof botWorld>;
  let revStore: MemoryRevocationStore;
  let krl: RevocationList;
  let roles: RoleManager;

  const build = (o: { copyLockScope?: 'instance' | 'bot'; refusals?: RefusalAuditor; peppers?: KeyRing } = {}) => {
    world = botWorld({ clock, ca, roles, botStore, audit, revocations: krl, revocationStore: revStore, ...o });
    joins = world.joins;
    bots = new BotManager({ store: botStore, instances: world.instances, joinTokens: world.joinTokens, clock, roles, revocations: krl });
  };

  beforeEach(async () => {
    clock = new FakeClock('2026-03-24T14:00:00Z');
    ca = new FakeCa(clock);
    audit = new MemoryAuditLog();
    botStore = new MemoryBotStore();
    revStore = new MemoryRevocationStore();
    roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
    krl = new RevocationList({ store: revStore, bots: botStore, ca, clock, cacheMs: 0 });
    await roles.upsert(admin, { yaml: SEED_ROLE, fileName: 'role.yaml', force: false });
    build();
  });

  const newBot = async (name = 'github-deploy', maxCertTtlMs?: number) => (await bots.create(admin, { name, roles: ['ci-deployer'], tokenTtlMs: 3600_000, ...(maxCertTtlMs ? { maxCertTtlMs } : {}) })).joinToken;
  const join = async (token: string, key = keyPair(), ttl = 3600_000, source = '198.51.100.1'): Promise<Held> => {
    const r = await joins.join({ joinToken: token, publicKey: key.line, requestedTtlMs: ttl, requestId: randomUUID(), source });
    return { certificate: r.certificate, key, instanceId: r.instanceId, generation: r.generation };
  };
  const renew = async (held: Held, next = keyPair(), o: { source?: string; timeMs?: number; signer?: KeyObject; ttl?: number } = {}): Promise<Held> => {
    const c = parseCertificate(held.certificate);
    const timeMs = o.timeMs ?? clock.now().getTime();
    const signature = signBotRenewal(o.signer ?? held.key.privateKey, { instanceId: held.instanceId, generation: held.generation, serial: c.serial, newPublicKeyBlob: encodePublicKey(parsePublicKey(next.line).key), timeMs });
    const r = await joins.renew({ certificate: held.certificate, newPublicKey: next.line, timeMs, signature, requestedTtlMs: o.ttl ?? 3600_000, requestId: randomUUID(), source: o.source ?? '198.51.100.1' });
    return { certificate: r.certificate, key: next, instanceId: r.instanceId, generation: r.generation };
  };
  const failure = (p: Promise<unknown>) => p.then(() => 'accepted', (e: Error) => `${(e as { code?: string }).code}: ${e.message}`);
  const revokedSerials = async () => new Set((await revStore.listLive(clock.now())).flatMap((r) => (r.serial ? [r.serial] : [])));
  const serialOf = (h: Held) => parseCertificate(h.certificate).serial.toString();

  describe('join', () => {
    test('a join token minted under the previous session pepper still joins, once; without that pepper it is refused', async () => {
      const [a, b] = [randomBytes(32), randomBytes(32)];
      build({ peppers: keyRing(b, [a]) });
      const { bot } = await bots.create(admin, { name: 'rotated', roles: ['ci-deployer'], tokenTtlMs: 3600_000 });
      const underA = new JoinTokens({ store: world.tokenStore, clock, pepper: a });
      const used = await underA.create({ tenantId, subjectKind: 'bot', subjectId: bot.id, ttlMs: 3600_000 });
      const unused = await underA.create({ tenantId, subjectKind: 'bot', subjectId: bot.id, ttlMs: 3600_000 });
      const held = await join(used.plaintext);
      expect(held.generation).toBe(1);
      await expect(join(used.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
      expect((await world.tokenStore.findByHash(world.joinTokens.hash(unused.plaintext)))).toBeNull(); // not under B

      // The previous pepper dropped: a token minted under it is unknown.
      const onlyB = new JoinTokens({ store: world.tokenStore, clock, peppers: keyRing(b) });
      const joinsB = new JoinManager({ bots: botStore, instances: world.instances, tokens: world.tokenStore, tokenHash: (t) => onlyB.storedHash(t), certs: world.certs, audit, clock });
      await expect(joinsB.join({ joinToken: unused.plaintext, publicKey: keyPair().line, requestedTtlMs: 3600_000, requestId: randomUUID(), source: '198.51.100.1' })).rejects.toMatchObject({ code: 'Unauthenticated' });
    });

    test('an instance at generation 1: principals allowed minus denied, the claims name bot, instance and generation, the token works once', async () => {
      const token = await newBot();
      const j = await join(token);
      const cert = parseCertificate(j.certificate);
      expect(cert.principals).toEqual(['deploy']);
      expect(cert.keyId).toMatch(/^bot:github-deploy\/\d+$/);
      expect(JSON.parse(cert.extensions[MEZITE_EXTENSION] ?? '{}')).toMatchObject({ bot: 'github-deploy', inst: j.instanceId, gen: 1, roles: ['ci-deployer'] });
      expect(j.generation).toBe(1);
      const inst = await world.instances.get(tenantId, j.instanceId);
      expect(inst).toMatchObject({ generation: 1, joinMethod: 'token', lastAddress: '198.51.100.1', lock: null });
      expect(await failure(join(token))).toBe('Unauthenticated: invalid join token');
    });

    test('certificate extensions: permit-pty only when the roles list none; what a role lists when it does (the union over roles)', async () => {
      const extensionsOf = (h: Held) => Object.keys(parseCertificate(h.certificate).extensions).filter((e) => e !== MEZITE_EXTENSION);
      expect(extensionsOf(await join(await newBot('plain')))).toEqual(['permit-pty']);
      await roles.upsert(admin, { yaml: SEED_ROLE.replace('name: ci-deployer', 'name: tunnel').replace('    max_session_ttl: 4h\n', '    max_session_ttl: 4h\n    ssh_extensions: [permit-port-forwarding]\n'), fileName: 'tunnel.yaml', force: false });
      const both = (await bots.create(admin, { name: 'tunneller', roles: ['ci-deployer', 'tunnel'], tokenTtlMs: 3600_000 })).joinToken;
      expect(extensionsOf(await join(both))).toEqual(['permit-port-forwarding', 'permit-pty']);
    });

    test('a join retried with the same token and key (its answer was lost) gets the same certificate; another key is refused', async () => {
      const token = await newBot();
      const key = keyPair();
      const first = await join(token, key);
      const again = await join(token, key);
      expect(again.certificate).toBe(first.certificate);
      expect(again.instanceId).toBe(first.instanceId);
      expect(await failure(join(token, keyPair()))).toBe('Unauthenticated: invalid join token');
      expect((await world.instances.list(tenantId, { limit: 10 })).map((i) => i.id)).toEqual([first.instanceId]);
      expect(audit.events.filter((e) => e.type === 'bot.join' && e.result === 'success').map((e) => e.details.replay ?? 'first')).toEqual(['first', 'true']);
    });

    test('a failed signing leaves the token usable: nothing was redeemed', async () => {
      const token = await newBot();
      ca.failNext = true;
      await expect(join(token)).rejects.toThrow('ssh-ca down');
      expect((await world.instances.list(tenantId, { limit: 10 }))).toHaveLength(0);
      await expect(join(token)).resolves.toMatchObject({ generation: 1 });
    });

    test('no certificate is answered without its record: a failed audit write is Unavailable, and the retry gets the same certificate, recorded', async () => {
      const token = await newBot();
      const key = keyPair();
      audit.failNext = true;
      const lost = await joins.join({ joinToken: token, publicKey: key.line, requestedTtlMs: 0, requestId: 'r1', source: 'a' }).catch((e: unknown) => e);
      expect(isMeziteError(lost, 'Unavailable')).toBe(true);
      const retry = await join(token, key);
      expect(retry.generation).toBe(1);
      expect(audit.events.filter((e) => e.type === 'bot.join' && e.result === 'success')).toHaveLength(1);
    });

    test('unknown, malformed, used and node tokens get the same error, each reason in the audit log', async () => {
      const used = await newBot('used');
      await join(used);
      const msgs = await Promise.all(['tok-bot-' + 'a'.repeat(32), 'garbage', '', used].map((t) => failure(join(t))));
      expect(new Set(msgs)).toEqual(new Set(['Unauthenticated: invalid join token']));
      expect(audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure').map((e) => e.details.reason).sort()).toEqual(['malformed token', 'malformed token', 'unknown token', 'used token']);
    });

    test('TTL: asked for, capped by the server default (1 h), the bot\'s own cap and every role\'s max_session_ttl', async () => {
      const now = () => clock.now().getTime();
      const life = (h: Held) => parseCertificate(h.certificate).validBefore.getTime() - now();
      expect(life(await join(await newBot('a'), keyPair(), 4 * 3600_000))).toBe(3600_000);
      expect(life(await join(await newBot('b'), keyPair(), 10 * 60_000))).toBe(600_000);
      expect(life(await join(await newBot('c', 20 * 60_000), keyPair(), 4 * 3600_000))).toBe(1200_000);
      expect(life(await join(await newBot('d', 8 * 3600_000), keyPair(), 8 * 3600_000))).toBe(4 * 3600_000);
      expect(life(await join(await newBot('e'), keyPair(), 0))).toBe(3600_000);
    });

    test('rotate-token: the old join token stops working at once; instances add mints another without revoking', async () => {
      const old = await newBot();
      const r = await bots.rotateToken(admin, 'github-deploy', 3600_000);
      expect(await failure(join(old))).toBe('Unauthenticated: invalid join token');
      const extra = await bots.addInstance(admin, 'github-deploy', 3600_000);
      const a = await join(r.joinToken);
      const b = await join(extra.joinToken);
      expect(a.instanceId).not.toBe(b.instanceId);
      expect((await bots.listInstances(admin, { botName: 'github-deploy', pageSize: 0, pageToken: '' })).instances.map((i) => i.id).sort()).toEqual([a.instanceId, b.instanceId].sort());
    });
  });

  describe('renewal', () => {
    test('one call proves possession over the new key and moves the instance one generation on', async () => {
      const j = await join(await newBot());
      const r2 = await renew(j);
      expect(r2).toMatchObject({ generation: 2, instanceId: j.instanceId });
      const r3 = await renew(r2);
      expect(r3.generation).toBe(3);
      const lineage = await world.instances.lineage(tenantId, j.instanceId);
      expect(lineage.map((s) => [s.generation, s.serial])).toEqual([j, r2, r3].map((h) => [h.generation, serialOf(h)]));
      expect((await bots.get(admin, 'github-deploy')).generation).toBe(3);
    });

    test('ten lost responses in a row lock nothing: every retry of the step gets the same certificate', async () => {
      const j = await join(await newBot());
      const next = keyPair();
      const first = await renew(j, next);
      for (let i = 0; i < 10; i++) expect((await renew(j, next)).certificate).toBe(first.certificate);
      expect((await world.instances.get(tenantId, j.instanceId))?.lock).toBeNull();
      await expect(renew(first)).resolves.toMatchObject({ generation: 3 });
      expect(await revokedSerials()).toEqual(new Set());
    });

    test.each([
      ['the copy renews first', true],
      ['the original renews first', false],
    ])('%s: the second presentation locks the instance, revokes its lineage, and names both addresses', async (_name, copyFirst) => {
      const j = await join(await newBot());
      const original = await renew(j, keyPair(), { source: '198.51.100.1' });
      // The copy: the data dir as it was, at generation 2.
      const copy: Held = { ...original };
      const [firstWho, secondWho] = copyFirst ? [copy, original] : [original, copy];
      const firstSource = copyFirst ? '203.0.113.9' : '198.51.100.1';
      const secondSource = copyFirst ? '198.51.100.1' : '203.0.113.9';
      const winner = await renew(firstWho, keyPair(), { source: firstSource });
      expect(winner.generation).toBe(3);
      expect(await failure(renew(secondWho, keyPair(), { source: secondSource }))).toMatch(/^PermissionDenied: this instance of bot "github-deploy" is locked: generation 2 was presented twice with different keys/);
      expect((await world.instances.get(tenantId, j.instanceId))?.lock).toMatchObject({ lockedBy: 'mezite' });
      // Every certificate of the lineage still valid is revoked: the winner's too.
      const revoked = await revokedSerials();
      for (const h of [j, original, winner]) expect(revoked.has(serialOf(h))).toBe(true);
      const lock = audit.events.find((e) => e.type === 'bot.lock');
      expect(lock?.details).toMatchObject({ instance: j.instanceId, first_address: firstSource, second_address: secondSource, scope: 'instance' });
      // Neither goes on; the bot itself is not locked (scope: instance).
      expect(await failure(renew(winner))).toMatch(/^Unauthenticated|^PermissionDenied/);
      expect((await bots.get(admin, 'github-deploy')).lock).toBeNull();
    });

    test('a bot with two instances loses only the copied one', async () => {
      const token = await newBot();
      const extra = await bots.addInstance(admin, 'github-deploy', 3600_000);
      const a = await join(token);
      const b = await join(extra.joinToken);
      await renew(a);
      await expect(renew(a)).rejects.toThrow(/is locked/);
      const b2 = await renew(b);
      expect(b2).toMatchObject({ generation: 2, instanceId: b.instanceId });
      expect((await world.instances.get(tenantId, b.instanceId))?.lock).toBeNull();
    });

    test('with MEZITE_COPY_LOCK=bot a copy locks the whole bot', async () => {
      build({ copyLockScope: 'bot' });
      const token = await newBot();
      const extra = await bots.addInstance(admin, 'github-deploy', 3600_000);
      const a = await join(token);
      const b = await join(extra.joinToken);
      await renew(a);
      await expect(renew(a)).rejects.toThrow(/is locked/);
      expect((await bots.get(admin, 'github-deploy')).lock).toMatchObject({ lockedBy: 'mezite' });
      await expect(renew(b)).rejects.toThrow(/bot "github-deploy" is locked/);
    });

    test('concurrent presentations of one generation: with the same key all get one certificate; with different keys the instance ends locked', async () => {
      const j = await join(await newBot('same'));
      const key = keyPair();
      const same = await Promise.all(Array.from({ length: 8 }, () => renew(j, key)));
      expect(new Set(same.map((h) => h.certificate)).size).toBe(1);
      const k = await join(await newBot('differ'));
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => failure(renew(k))));
      expect(outcomes.filter((o) => o === 'accepted').length).toBeLessThanOrEqual(1);
      expect((await world.instances.get(tenantId, k.instanceId))?.lock).not.toBeNull();
    });

    test('the proof binds the time (±2 minutes), the new key, the generation and the current key', async () => {
      const j = await join(await newBot());
      const at = clock.now().getTime();
      expect(await failure(renew(j, keyPair(), { timeMs: at - 3 * 60_000 }))).toMatch(/^Unauthenticated: the renewal was signed at .* more than 2 minutes from the server's clock/);
      expect(await failure(renew(j, keyPair(), { timeMs: at + 3 * 60_000 }))).toMatch(/more than 2 minutes/);
      expect(await failure(renew(j, keyPair(), { signer: keyPair().privateKey }))).toBe('Unauthenticated: the renewal signature does not match the certificate key');
      expect(await failure(renew({ ...j, generation: 2 }))).toBe('Unauthenticated: the renewal signature does not match the certificate key');
      expect(await failure(renew(j, j.key))).toMatch(/^InvalidArgument: a renewal must certify a new key/);
      // Nothing above moved the instance or locked it.
      expect(await world.instances.get(tenantId, j.instanceId)).toMatchObject({ generation: 1, lock: null });
      await expect(renew(j, keyPair(), { timeMs: at + 90_000 })).resolves.toMatchObject({ generation: 2 });
    });

    test('a locked bot can neither join nor renew; unlocking restores it; a lock with an expiry lifts itself', async () => {
      const j = await join(await newBot());
      await bots.lock(admin, 'github-deploy', { reason: 'investigating', ttlMs: 60_000 });
      expect(await failure(renew(j))).toBe('PermissionDenied: bot "github-deploy" is locked: investigating');
      const extra = await bots.addInstance(admin, 'github-deploy', 3600_000);
      expect(await failure(join(extra.joinToken))).toMatch(/^PermissionDenied: bot "github-deploy" is locked/);
      clock.advance(61_000);
      await expect(renew(j)).resolves.toMatchObject({ generation: 2 });
    });

    test('a removed bot and an expired certificate cannot renew', async () => {
      const j = await join(await newBot());
      clock.advance(3600_000 + 1);
      expect(await failure(renew(j))).toBe('Unauthenticated: the certificate was not issued by this cluster or has expired');
      const k = await join(await newBot('other'));
      await bots.delete(admin, 'other');
      expect(await failure(renew(k))).toMatch(/^Unauthenticated|^PermissionDenied: bot "other" no longer exists/);
    });

    test('a lineage carried over from before instances (no instance in its certificate) keeps renewing as the bot\'s first instance', async () => {
      await newBot();
      const bot = await bots.get(admin, 'github-deploy');
      world.instances.create({ id: bot.id, tenantId, botId: bot.id, generation: 5, joinMethod: 'token', joinTokenId: null, createdAt: clock.now(), lastRenewalAt: null, lastAddress: '', heartbeat: null, certExpiresAt: null, lock: null, legacyGeneration: 5 }, { instanceId: bot.id, generation: 0, publicKey: 'x', keyFingerprint: 'x', serial: '0', certificate: 'x', issuedAt: clock.now(), expiresAt: clock.now(), address: '', requestId: '' });
      const key = keyPair();
      const now = clock.now();
      const legacyClaims = { v: 1, bot: bot.name, bot_id: bot.id, tenant: tenantId, roles: bot.roles, gen: 5 };
      const legacy = signCertificate({ ca: { key: ca.user.privateKey }, subjectKey: parsePublicKey(key.line), type: 'user', serial: 77n, keyId: 'bot:github-deploy/77', principals: ['deploy'], validAfter: new Date(now.getTime() - 60_000), validBefore: new Date(now.getTime() + 3600_000), extensions: { [MEZITE_EXTENSION]: JSON.stringify(legacyClaims) } }).line;
      const r = await renew({ certificate: legacy, key, instanceId: bot.id, generation: 5 });
      expect(r).toMatchObject({ generation: 6, instanceId: bot.id });
      expect(JSON.parse(parseCertificate(r.certificate).extensions[MEZITE_EXTENSION] ?? '{}')).toMatchObject({ inst: bot.id, gen: 6 });
      // An older pre-upgrade generation cannot be judged: refused, nothing locked.
      const older = signCertificate({ ca: { key: ca.user.privateKey }, subjectKey: parsePublicKey(key.line), type: 'user', serial: 78n, keyId: 'bot:github-deploy/78', principals: ['deploy'], validAfter: new Date(now.getTime() - 60_000), validBefore: new Date(now.getTime() + 3600_000), extensions: { [MEZITE_EXTENSION]: JSON.stringify({ ...legacyClaims, gen: 3 }) } }).line;
      expect(await failure(renew({ certificate: older, key, instanceId: bot.id, generation: 3 }))).toMatch(/^FailedPrecondition: generation 3 .* issued before the upgrade/);
      expect((await world.instances.get(tenantId, bot.id))?.lock).toBeNull();
    });
  });

  describe('refused renewals are audited with their reason, bounded per source', () => {
    const REFUSED = 'Unauthenticated: the certificate was not issued by this cluster or has expired';
    const resign = (line: string, caKey: KeyObject, validAfter: Date, validBefore: Date) => {
      const c = parseCertificate(line);
      return signCertificate({ ca: { key: caKey }, subjectKey: c.subjectKey.blob, type: 'user', serial: c.serial, keyId: c.keyId, principals: c.principals, validAfter, validBefore, extensions: c.extensions }).line;
    };
    const tryRenew = (j: Held, certificate: string, requestId: string, m = joins) => {
      const next = keyPair();
      const timeMs = clock.now().getTime();
      const c = parseCertificate(certificate);
      const signature = signBotRenewal(j.key.privateKey, { instanceId: j.instanceId, generation: 1, serial: c.serial, newPublicKeyBlob: encodePublicKey(parsePublicKey(next.line).key), timeMs });
      return failure(m.renew({ certificate, newPublicKey: next.line, timeMs, signature, requestedTtlMs: 0, requestId, source: '192.0.2.7' }));
    };

    test('another CA, a changed signature, expired, not yet valid and revoked: one answer, each reason under its request id', async () => {
      const j = await join(await newBot());
      const cert = parseCertificate(j.certificate);
      const now = clock.now().getTime();
      const flipped = Buffer.from(cert.blob);
      flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
      const answers = {
        'another CA': await tryRenew(j, resign(j.certificate, generateCaKey('ed25519').privateKey, new Date(now - 60_000), new Date(now + 3600_000)), 'another CA'),
        'changed signature': await tryRenew(j, `${cert.keyType} ${flipped.toString('base64')}`, 'changed signature'),
        expired: await tryRenew(j, resign(j.certificate, ca.user.privateKey, new Date(now - 7200_000), new Date(now - 3600_000)), 'expired'),
        'not yet valid': await tryRenew(j, resign(j.certificate, ca.user.privateKey, new Date(now + 3600_000), new Date(now + 7200_000)), 'not yet valid'),
      };
      await krl.revokeSerial(tenantId, cert.serial.toString(), 'test', new Date(now + 3600_000));
      Object.assign(answers, { revoked: await tryRenew(j, j.certificate, 'revoked') });
      expect(new Set(Object.values(answers))).toEqual(new Set([REFUSED]));
      const records = Object.fromEntries(audit.events.filter((e) => e.type === 'bot.renew').map((e) => [e.requestId, { tenant: e.tenantId, actor: e.actor, reason: e.details.reason, source: e.details.source }]));
      const anonymous = { tenant: null, actor: 'anonymous', source: '192.0.2.7' };
      const theBot = { tenant: tenantId, actor: 'bot:github-deploy', source: '192.0.2.7' };
      expect(records).toEqual({
        'another CA': { ...anonymous, reason: 'not issued by a trusted CA' },
        'changed signature': { ...anonymous, reason: 'bad certificate signature' },
        expired: { ...theBot, reason: 'expired' },
        'not yet valid': { ...theBot, reason: 'not yet valid' },
        revoked: { ...theBot, reason: 'revoked' },
      });
      expect(JSON.stringify(audit.events)).not.toContain(cert.blob.toString('base64').slice(0, 40));
    });

    test('a refusal stays a refusal when its audit record cannot be written', async () => {
      const j = await join(await newBot());
      clock.advance(2 * 3600_000);
      audit.failNext = true;
      expect(await tryRenew(j, j.certificate, 'r1')).toBe(REFUSED);
    });

    test('bounded per source: a caller spraying certificates gets a few records and one "audit limit reached"', async () => {
      const j = await join(await newBot());
      build({ refusals: new RefusalAuditor({ audit, clock, log: nullLogger, perSource: 3 }) });
      clock.advance(2 * 3600_000);
      for (let i = 0; i < 50; i++) expect(await tryRenew(j, j.certificate, `r${i}`)).toBe(REFUSED);
      expect(audit.events.filter((e) => e.type === 'bot.renew').map((e) => e.details.reason)).toEqual(['expired', 'expired', 'expired', 'audit limit reached']);
    });

    test('bounded per source for join tokens too: anonymous guesses cannot grow the audit log without bound', async () => {
      build({ refusals: new RefusalAuditor({ audit, clock, log: nullLogger, perSource: 3 }) });
      for (let i = 0; i < 50; i++) expect(await failure(join(`tok-bot-${randomUUID().replace(/-/g, '')}`))).toBe('Unauthenticated: invalid join token');
      expect(audit.events.filter((e) => e.type === 'bot.join')).toHaveLength(4);
    });

    test('a certificate that parses as nothing is InvalidArgument and not a refusal to audit', async () => {
      const j = await join(await newBot());
      expect(await failure(joins.renew({ certificate: 'ssh-ed25519-cert-v01@openssh.com AAAA', newPublicKey: keyPair().line, timeMs: clock.now().getTime(), signature: Buffer.alloc(0), requestedTtlMs: 0, requestId: 'r', source: 'x' }))).toMatch(/^InvalidArgument: /);
      expect(j.generation).toBe(1);
      expect(audit.events.filter((e) => e.type === 'bot.renew')).toHaveLength(0);
    });
  });
});
