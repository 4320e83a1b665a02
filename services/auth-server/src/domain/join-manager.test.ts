import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { FakeClock, isMeziteError, parseRoleYaml, unauthenticated, type Principal } from '@mezite/identity';
import { encodePublicKey, formatPublicKey, generateCaKey, parseCertificate, parsePublicKey, signCertificate, signRenewal } from '@mezite/ssh';
import { nullLogger } from '@mezite/platform';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryRenewalChallengeStore } from '../store/memory-renewal-challenge-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import { BotManager } from './bot-manager';
import { JoinManager, MEZITE_EXTENSION } from './join-manager';
import { RefusalAuditor } from './refusal-auditor';
import { RoleManager } from './role-manager';
import { FakeCa, FakeJoinTokens } from './test-doubles';

const SEED_ROLE = `kind: role
metadata:
  name: ci-deployer
spec:
  options:
    max_session_ttl: 1h
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

describe('JoinManager', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  let clock: FakeClock;
  let tokens: FakeJoinTokens;
  let ca: FakeCa;
  let audit: MemoryAuditLog;
  let bots: BotManager;
  let joins: JoinManager;
  let botStore: MemoryBotStore;

  beforeEach(async () => {
    clock = new FakeClock('2026-03-24T14:00:00Z');
    tokens = new FakeJoinTokens();
    ca = new FakeCa(clock);
    audit = new MemoryAuditLog();
    botStore = new MemoryBotStore();
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
    await roles.upsert(admin, { yaml: SEED_ROLE, fileName: 'role.yaml', force: false });
    bots = new BotManager({ store: botStore, joinTokens: tokens, clock, roles });
    joins = new JoinManager({ bots: botStore, roles, joinTokens: tokens, ca, challenges: new MemoryRenewalChallengeStore(), audit, clock });
  });

  const newBot = async () => (await bots.create(admin, { name: 'github-deploy', roles: ['ci-deployer'], tokenTtlMs: 3600_000 })).joinToken;
  const join = (token: string, key = keyPair(), ttl = 4 * 3600_000) => joins.join({ joinToken: token, publicKey: key.line, requestedTtlMs: ttl, requestId: 'r' }).then((r) => ({ ...r, key }));
  const renew = async (cert: string, key: KeyObject, next = keyPair()) => {
    const b = await joins.beginRenewal({ certificate: cert, requestId: 'r' });
    const sig = signRenewal(key, b.challenge, encodePublicKey(parsePub(next.line)));
    const r = await joins.completeRenewal({ challengeId: b.challengeId, signature: sig, newPublicKey: next.line, requestedTtlMs: 3600_000, requestId: 'r' });
    return { ...r, key: next };
  };
  const parsePub = (line: string) => parsePublicKey(line).key;

  test('join: principals are allowed minus denied logins, TTL clamped to max_session_ttl, generation 1, token single-use', async () => {
    const token = await newBot();
    const r = await join(token);
    const cert = parseCertificate(r.certificate);
    expect(cert.principals).toEqual(['deploy']);
    expect(r.principals).toEqual(['deploy']);
    expect(cert.validBefore.getTime() - clock.now().getTime()).toBe(3600_000);
    expect(cert.keyId).toMatch(/^bot:github-deploy\/\d+$/);
    expect(JSON.parse(cert.extensions[MEZITE_EXTENSION] ?? '{}')).toMatchObject({
      bot: 'github-deploy',
      gen: 1,
      roles: ['ci-deployer'],
      // The grants travel with the certificate, so a node decides a login offline.
      grants: [{ allow: { logins: ['deploy'], node_labels: { env: ['staging', 'production'] } }, deny: { logins: ['root'], node_labels: {} } }],
    });
    expect(r.hostCertAuthorities).toEqual([ca.host.publicKeyLine]);
    expect(r.generation).toBe(1);
    const again = await join(token).catch((e: unknown) => e);
    expect(isMeziteError(again, 'Unauthenticated')).toBe(true);
    expect((again as Error).message).toBe('invalid join token');
  });

  test('a failed signing releases the token: the join can be retried', async () => {
    const token = await newBot();
    ca.failNext = true;
    await expect(join(token)).rejects.toThrow('ssh-ca down');
    expect(tokens.tokens.get(token)?.state).toBe('live');
    await expect(join(token)).resolves.toMatchObject({ generation: 1 });
    expect(tokens.tokens.get(token)?.state).toBe('used');
  });

  test('fail closed: if the audit record cannot be written the join is refused and the token stays usable', async () => {
    const token = await newBot();
    audit.failNext = true;
    await expect(join(token)).rejects.toThrow('audit store down');
    expect(tokens.tokens.get(token)?.state).toBe('live');
    await expect(join(token)).resolves.toMatchObject({ generation: 2 });
  });

  test('unknown, malformed and used tokens get the same error', async () => {
    const msgs = await Promise.all(['tok-bot-' + 'a'.repeat(32), 'garbage', ''].map((t) => join(t).catch((e: Error) => `${(e as { code?: string }).code}:${e.message}`)));
    expect(new Set(msgs)).toEqual(new Set(['Unauthenticated:invalid join token']));
    expect(audit.events.filter((e) => e.type === 'bot.join' && e.result === 'failure')).toHaveLength(3);
  });

  test('renewal proves possession, returns generation + 1 on a new key', async () => {
    const j = await join(await newBot());
    const r = await renew(j.certificate, j.key.privateKey);
    expect(r.generation).toBe(2);
    expect(parseCertificate(r.certificate).principals).toEqual(['deploy']);
    const r3 = await renew(r.certificate, r.key.privateKey);
    expect(r3.generation).toBe(3);
  });

  test('a signature by another key is refused and the challenge cannot be replayed', async () => {
    const j = await join(await newBot());
    const b = await joins.beginRenewal({ certificate: j.certificate, requestId: 'r' });
    const next = keyPair();
    const bad = signRenewal(keyPair().privateKey, b.challenge, encodePublicKey(parsePub(next.line)));
    await expect(joins.completeRenewal({ challengeId: b.challengeId, signature: bad, newPublicKey: next.line, requestedTtlMs: 0, requestId: 'r' })).rejects.toThrow(/does not match the certificate key/);
    const good = signRenewal(j.key.privateKey, b.challenge, encodePublicKey(parsePub(next.line)));
    await expect(joins.completeRenewal({ challengeId: b.challengeId, signature: good, newPublicKey: next.line, requestedTtlMs: 0, requestId: 'r' })).rejects.toThrow(/unknown or expired renewal challenge/);
  });

  test('a crash between issuing and saving does not lock a healthy bot', async () => {
    const j = await join(await newBot());
    const lost = await renew(j.certificate, j.key.privateKey); // issued, never saved
    expect(lost.generation).toBe(2);
    const r = await renew(j.certificate, j.key.privateKey); // daemon retries with generation 1
    expect(r.generation).toBe(3);
    expect((await botStore.get(tenantId, 'github-deploy'))?.lock).toBeNull();
  });

  test('concurrent renewals presenting one generation: exactly one wins, the rest lose the race without locking the bot', async () => {
    const j = await join(await newBot());
    // All challenges issued before any renewal completes: the renewals are concurrent.
    const begun = await Promise.all([1, 2, 3].map(() => joins.beginRenewal({ certificate: j.certificate, requestId: 'r' })));
    const complete = (b: (typeof begun)[number]) => {
      const next = keyPair();
      const sig = signRenewal(j.key.privateKey, b.challenge, encodePublicKey(parsePub(next.line)));
      return joins.completeRenewal({ challengeId: b.challengeId, signature: sig, newPublicKey: next.line, requestedTtlMs: 3600_000, requestId: 'r' });
    };
    const first = await complete(begun[0]!);
    expect(first.generation).toBe(2);
    // Completed after the winner: without the generation bound to the challenge, the
    // second would pass as a crash retry and the third would lock the bot as a copy.
    for (const b of begun.slice(1)) await expect(complete(b)).rejects.toMatchObject({ code: 'FailedPrecondition', message: 'another renewal of bot "github-deploy" won; retry' });
    expect((await botStore.get(tenantId, 'github-deploy'))?.lock).toBeNull();
    expect((await botStore.get(tenantId, 'github-deploy'))?.generation).toBe(2);
    // A daemon that lost the answer retries with a new challenge: tolerated once, as before.
    await expect(renew(j.certificate, j.key.privateKey)).resolves.toMatchObject({ generation: 3 });
  });

  test('a copied credential renewing after the original locks the bot', async () => {
    const j = await join(await newBot());
    const a = await renew(j.certificate, j.key.privateKey); // original: gen 2
    const b = await renew(a.certificate, a.key.privateKey); // original: gen 3
    const clone = await renew(j.certificate, j.key.privateKey).catch((e: unknown) => e); // copy of gen 1
    expect(isMeziteError(clone, 'PermissionDenied')).toBe(true);
    expect((clone as Error).message).toMatch(/bot "github-deploy" is locked: certificate generation mismatch/);
    const bot = await botStore.get(tenantId, 'github-deploy');
    expect(bot?.lock?.lockedBy).toBe('mezite');
    await expect(renew(b.certificate, b.key.privateKey)).rejects.toThrow(/is locked/);
    expect(audit.events.some((e) => e.type === 'bot.lock' && e.actor === 'mezite')).toBe(true);
  });

  test('a locked bot can neither join nor renew; unlocking restores it', async () => {
    const token = await newBot();
    const j = await join(token);
    await bots.lock(admin, 'github-deploy', { reason: 'incident 7', ttlMs: 0 });
    await expect(renew(j.certificate, j.key.privateKey)).rejects.toThrow('bot "github-deploy" is locked: incident 7');
    const rotated = await bots.rotateToken(admin, 'github-deploy', 3600_000);
    await expect(join(rotated.joinToken)).rejects.toThrow(/is locked/);
    expect(tokens.tokens.get(rotated.joinToken)?.state).toBe('live');
    await bots.unlock(admin, 'github-deploy');
    await expect(renew(j.certificate, j.key.privateKey)).resolves.toMatchObject({ generation: 2 });
  });

  test('a lock with an expiry lifts itself', async () => {
    const j = await join(await newBot());
    await bots.lock(admin, 'github-deploy', { reason: 'brief', ttlMs: 60_000 });
    await expect(renew(j.certificate, j.key.privateKey)).rejects.toThrow(/is locked/);
    clock.advance(61_000);
    await expect(renew(j.certificate, j.key.privateKey)).resolves.toMatchObject({ generation: 2 });
  });

  test('a removed bot cannot renew; an expired certificate cannot renew', async () => {
    const j = await join(await newBot());
    clock.advance(2 * 3600_000);
    await expect(renew(j.certificate, j.key.privateKey)).rejects.toThrow(/not issued by this cluster or has expired/);
    clock.advance(-2 * 3600_000);
    await bots.delete(admin, 'github-deploy');
    await expect(renew(j.certificate, j.key.privateKey)).rejects.toThrow(/no longer exists/);
  });

  test('concurrent renewals presenting the same generation: exactly one wins', async () => {
    const j = await join(await newBot());
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => renew(j.certificate, j.key.privateKey)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  test('rotate-token: the old join token stops working at once', async () => {
    const old = await newBot();
    const r = await bots.rotateToken(admin, 'github-deploy', 3600_000);
    await expect(join(old)).rejects.toThrow('invalid join token');
    await expect(join(r.joinToken)).resolves.toMatchObject({ generation: 1 });
  });

  describe('BeginRenewal refusals are audited with their reason', () => {
    const REFUSED = 'Unauthenticated: the certificate was not issued by this cluster or has expired';
    const revoked = new Set<string>();
    const begin = (certificate: string, requestId: string, j = joins) =>
      j.beginRenewal({ certificate, requestId, source: '192.0.2.7' }).then(
        () => 'accepted',
        (e: Error) => `${(e as { code?: string }).code}: ${e.message}`,
      );
    const resign = (line: string, caKey: KeyObject, validAfter: Date, validBefore: Date) => {
      const c = parseCertificate(line);
      return signCertificate({ ca: { key: caKey }, subjectKey: c.subjectKey.blob, type: 'user', serial: c.serial, keyId: c.keyId, principals: c.principals, validAfter, validBefore, extensions: c.extensions }).line;
    };
    const withRevocations = () =>
      new JoinManager({ bots: botStore, roles: { resolve: async () => [] }, joinTokens: tokens, ca, challenges: new MemoryRenewalChallengeStore(), audit, clock, revocations: { isCertificateRevoked: async (serial) => revoked.has(serial) } });

    test('another CA, a changed signature, expired, not yet valid and revoked: one answer, each reason under its request id', async () => {
      const j = await join(await newBot());
      const cert = parseCertificate(j.certificate);
      const now = clock.now().getTime();
      const flipped = Buffer.from(cert.blob);
      flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
      revoked.add(cert.serial.toString());
      const answers = {
        'another CA': await begin(resign(j.certificate, generateCaKey('ed25519').privateKey, new Date(now - 60_000), new Date(now + 3600_000)), 'another CA'),
        'changed signature': await begin(`${cert.keyType} ${flipped.toString('base64')}`, 'changed signature'),
        expired: await begin(resign(j.certificate, ca.user.privateKey, new Date(now - 7200_000), new Date(now - 3600_000)), 'expired'),
        'not yet valid': await begin(resign(j.certificate, ca.user.privateKey, new Date(now + 3600_000), new Date(now + 7200_000)), 'not yet valid'),
        revoked: await begin(j.certificate, 'revoked', withRevocations()),
      };
      expect(new Set(Object.values(answers))).toEqual(new Set([REFUSED]));
      const records = Object.fromEntries(audit.events.filter((e) => e.type === 'bot.renew').map((e) => [e.requestId, { tenant: e.tenantId, actor: e.actor, target: e.target, result: e.result, reason: e.details.reason, source: e.details.source }]));
      const anonymous = { tenant: null, actor: 'anonymous', target: 'bot:?', result: 'failure', source: '192.0.2.7' };
      const theBot = { tenant: tenantId, actor: 'bot:github-deploy', target: 'bot:github-deploy', result: 'failure', source: '192.0.2.7' };
      expect(records).toEqual({
        'another CA': { ...anonymous, reason: 'not issued by a trusted CA' },
        'changed signature': { ...anonymous, reason: 'bad certificate signature' },
        expired: { ...theBot, reason: 'expired' },
        'not yet valid': { ...theBot, reason: 'not yet valid' },
        revoked: { ...theBot, reason: 'revoked' },
      });
      // The record names the certificate by serial, never by its text.
      expect(JSON.stringify(audit.events)).not.toContain(cert.blob.toString('base64').slice(0, 40));
    });

    test('a refusal stays a refusal when its audit record cannot be written', async () => {
      const j = await join(await newBot());
      clock.advance(2 * 3600_000);
      audit.failNext = true;
      expect(await begin(j.certificate, 'r1')).toBe(REFUSED);
    });

    test('bounded per source: a caller spraying certificates gets a few records and one "audit limit reached"', async () => {
      const j = await join(await newBot());
      const bounded = new JoinManager({ bots: botStore, roles: { resolve: async () => [] }, joinTokens: tokens, ca, challenges: new MemoryRenewalChallengeStore(), audit, clock, refusals: new RefusalAuditor({ audit, clock, log: nullLogger, perSource: 3 }) });
      clock.advance(2 * 3600_000);
      for (let i = 0; i < 50; i++) expect(await begin(j.certificate, `r${i}`, bounded)).toBe(REFUSED);
      expect(audit.events.filter((e) => e.type === 'bot.renew').map((e) => e.details.reason)).toEqual(['expired', 'expired', 'expired', 'audit limit reached']);
    });

    test('a certificate that parses as nothing is InvalidArgument, as before, and not a refusal to audit', async () => {
      expect(await begin('ssh-ed25519-cert-v01@openssh.com AAAA', 'r')).toMatch(/^InvalidArgument: /);
      expect(audit.events.filter((e) => e.type === 'bot.renew')).toHaveLength(0);
    });
  });
});
