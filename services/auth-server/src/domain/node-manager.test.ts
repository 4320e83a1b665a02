import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { FakeClock, isMeziteError, type Principal } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import { formatPublicKey, isCertificateRevoked, makeCertAuthCredential, parseCertificate, parseKrl, parsePublicKey, signBotRenewal, signRenewal } from '@mezite/ssh';
import { MemoryAuditLog } from '../store/memory-audit-log';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryNodeStore, MemoryRevocationStore } from '../store/memory-node-store';
import { MemoryRenewalChallengeStore } from '../store/memory-renewal-challenge-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import { BotManager } from './bot-manager';
import { CertAuthenticator } from './cert-authenticator';
import { MEZITE_EXTENSION, type BotCertClaims, type JoinManager, type RenewInput } from './join-manager';
import { NodeJoinManager } from './node-join-manager';
import { NodeManager } from './node-manager';
import { RevocationList } from './revocation';
import { RoleManager } from './role-manager';
import { botWorld, FakeCa } from './test-doubles';

const ROLE = `kind: role
metadata:
  name: ci-deployer
spec:
  allow:
    node_labels:
      env: [staging, production]
    logins: [deploy]
  deny:
    logins: [root]
`;

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
};

function keyPair(type: 'ed25519' | 'ec' = 'ec'): { line: string; privateKey: KeyObject } {
  const k = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { line: formatPublicKey(k.publicKey), privateKey: k.privateKey };
}

describe('nodes: inventory, join, renewal, visibility to bots, KRL', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  let clock: FakeClock;
  let ca: FakeCa;
  let nodes: NodeManager;
  let nodeJoins: NodeJoinManager;
  let bots: BotManager;
  let joins: JoinManager;
  let krl: RevocationList;
  let certAuth: CertAuthenticator;
  let audit: MemoryAuditLog;
  let nodeStore: MemoryNodeStore;

  beforeEach(async () => {
    clock = new FakeClock('2026-06-01T10:00:00Z');
    ca = new FakeCa(clock);
    audit = new MemoryAuditLog();
    const botStore = new MemoryBotStore();
    nodeStore = new MemoryNodeStore();
    const challenges = new MemoryRenewalChallengeStore();
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
    await roles.upsert(admin, { yaml: ROLE, fileName: 'role.yaml', force: false });
    const revocationStore = new MemoryRevocationStore();
    krl = new RevocationList({ store: revocationStore, bots: botStore, ca, clock, cacheMs: 1000 });
    const world = botWorld({ clock, ca, roles, botStore, audit, revocations: krl, revocationStore, nodes: nodeStore });
    joins = world.joins;
    bots = new BotManager({ store: botStore, joinTokens: world.joinTokens, instances: world.instances, clock, roles, revocations: krl });
    nodes = new NodeManager({ store: nodeStore, bots: botStore, roles, joinTokens: world.joinTokens, revocations: krl, audit, clock, log: nullLogger });
    nodeJoins = new NodeJoinManager({ nodes: nodeStore, tokens: world.tokenStore, tokenHash: world.tokenHash, ca, challenges, audit, clock });
    certAuth = new CertAuthenticator({ ca, bots: botStore, instances: world.instances, clock, revocations: krl });
  });

  const addNode = (name: string, labels: Record<string, string>, addr = '127.0.0.1:2222') => nodes.add(admin, { name, addr, labels, tokenTtlMs: 0, requestId: 'r' });
  const joinBot = async () => {
    const created = await bots.create(admin, { name: 'github-deploy', roles: ['ci-deployer'], tokenTtlMs: 3600_000 });
    const key = keyPair();
    const r = await joins.join({ joinToken: created.joinToken, publicKey: key.line, requestedTtlMs: 3600_000, requestId: 'r', source: '192.0.2.10' });
    return { ...r, key };
  };
  /** A one-call renewal of `certificate` (signed by `current`) onto `next`, as mezd makes it. */
  const renewal = (certificate: string, current: KeyObject, next: { line: string }): RenewInput => {
    const cert = parseCertificate(certificate);
    const claims = JSON.parse(cert.extensions[MEZITE_EXTENSION] ?? '{}') as Partial<BotCertClaims>;
    const timeMs = clock.now().getTime();
    const proof = { instanceId: claims.inst ?? '', generation: claims.gen ?? 0, serial: cert.serial, newPublicKeyBlob: parsePublicKey(next.line).blob, timeMs };
    return { certificate, newPublicKey: next.line, timeMs, signature: signBotRenewal(current, proof), requestedTtlMs: 3600_000, requestId: 'r', source: '192.0.2.10' };
  };
  const botPrincipal = (cert: string, key: KeyObject) => certAuth.authenticate(makeCertAuthCredential(parseCertificate(cert).blob, key, clock.now()));

  test('add: a one-time tok-node- token; names, addresses and labels are checked; only admins add', async () => {
    const r = await addNode('web-server-01', { env: 'staging', team: 'web' }, '127.0.0.1');
    expect(r.joinToken).toMatch(/^tok-node-[0-9a-f]{32}$/);
    expect(r.node).toMatchObject({ name: 'web-server-01', addr: '127.0.0.1:22', labels: { env: 'staging', team: 'web' }, joinedAt: null });
    expect(isMeziteError(await failure(addNode('web-server-01', {})), 'AlreadyExists')).toBe(true);
    for (const [name, addr, labels, msg] of [
      ['Web_01', '127.0.0.1:22', {}, /--name/],
      ['web-02', 'host:99999', {}, /--addr/],
      ['web-02', 'a b:22', {}, /--addr/],
      ['web-02', '127.0.0.1:22', { 'bad key!': 'x' }, /label name/],
      ['web-02', '127.0.0.1:22', { env: 'a b' }, /value/],
    ] as const) {
      const err = await failure(nodes.add(admin, { name, addr, labels: { ...labels }, tokenTtlMs: 0, requestId: 'r' }));
      expect(isMeziteError(err, 'InvalidArgument')).toBe(true);
      expect(err.message).toMatch(msg);
    }
    const svc: Principal = { kind: 'service', id: randomUUID(), tenantId, name: 'svc', authMethod: 'api-token', roles: [] };
    expect(isMeziteError(await failure(nodes.add(svc, { name: 'x', addr: '1.2.3.4', labels: {}, tokenTtlMs: 0, requestId: 'r' })), 'PermissionDenied')).toBe(true);
    expect(isMeziteError(await failure(nodes.list(svc, { pageSize: 0, pageToken: '' })), 'PermissionDenied')).toBe(true);
  });

  test("host names are one namespace across tenants: another tenant's admin cannot add, nor join, a node its bots would take for ours", async () => {
    await addNode('web-server-01', {}, 'web1.internal:2222');
    const otherTenant = randomUUID();
    const theirAdmin: Principal = { ...admin, id: randomUUID(), tenantId: otherTenant, name: 'acme-admin' };
    const add = (name: string, addr: string) => nodes.add(theirAdmin, { name, addr, labels: {}, tokenTtlMs: 0, requestId: 'r' });
    for (const [name, addr] of [['web-server-01', '203.0.113.9:22'], ['decoy', 'WEB1.internal:22'], ['web1.internal', '203.0.113.9:22']] as const) {
      const err = await failure(add(name, addr));
      expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
      expect(err.message).toMatch(/is another node's: host certificates carry it, and the Host CA is trusted across tenants/);
    }
    // Their own, distinct names are fine; and our tenant may reuse an address host of its own.
    await expect(add('acme-web', '203.0.113.9:22')).resolves.toMatchObject({ node: { tenantId: otherTenant } });
    await expect(addNode('web-server-02', {}, 'web1.internal:22')).resolves.toBeDefined();
    // Two adds racing past the check: the join refuses to sign the second one.
    const ours = await addNode('race-1', {}, '198.51.100.4:22');
    await nodeStore.create({ ...(await nodeStore.get(tenantId, 'race-1'))!, id: randomUUID(), tenantId: otherTenant, name: 'acme-race' });
    const err = await failure(nodeJoins.join({ joinToken: ours.joinToken, hostPublicKey: keyPair('ed25519').line, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' }));
    expect(isMeziteError(err, 'AlreadyExists')).toBe(true);
    expect(ca.log.filter((c) => c.keyId.startsWith('node:race-1/'))).toEqual([]);
  });

  test('add and rm are audited first: with the audit log down the node is neither added nor removed', async () => {
    audit.failNext = true;
    await expect(addNode('web-down', {})).rejects.toThrow(/audit store down/);
    expect((await nodes.list(admin, { pageSize: 0, pageToken: '' })).nodes.map((n) => n.name)).not.toContain('web-down');
    await addNode('web-stays', {});
    audit.failNext = true;
    await expect(nodes.delete(admin, 'web-stays', 'r-rm')).rejects.toThrow(/audit store down/);
    expect(await nodes.get(admin, 'web-stays')).toMatchObject({ name: 'web-stays' });
    await nodes.delete(admin, 'web-stays', 'r-rm2');
    expect(audit.events.filter((e) => e.requestId === 'r-rm2').map((e) => `${e.type} ${e.result}`)).toEqual(['node.remove requested', 'node.remove success']);
  });

  test('join: a host certificate on the existing host key, naming the node and its host; the token works once', async () => {
    const { joinToken } = await addNode('web-server-01', { env: 'staging' }, 'web1.internal:2222');
    const host = keyPair('ed25519');
    const r = await nodeJoins.join({ joinToken, hostPublicKey: host.line, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' });
    const cert = parseCertificate(r.hostCertificate);
    expect(cert.type).toBe('host');
    expect(cert.principals).toEqual(['web-server-01', 'web1.internal']);
    expect(cert.subjectKey.blob.equals(parsePublicKey(host.line).blob)).toBe(true);
    expect(cert.signatureKey.blob.equals(parsePublicKey(ca.host.publicKeyLine).blob)).toBe(true);
    expect(cert.validBefore.getTime() - clock.now().getTime()).toBe(24 * 3600_000);
    expect(r.userCertAuthorities).toEqual([ca.user.publicKeyLine]);
    expect(r.node.labels).toEqual({ env: 'staging' });
    // Used once: another key cannot redeem it again; the same key is a retry of the lost
    // answer (STYLE.md §7) and gets a host certificate on that key again.
    const again = await failure(nodeJoins.join({ joinToken, hostPublicKey: keyPair('ed25519').line, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' }));
    expect(isMeziteError(again, 'Unauthenticated')).toBe(true);
    const retried = await nodeJoins.join({ joinToken, hostPublicKey: host.line, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' });
    expect(parseCertificate(retried.hostCertificate).subjectKey.blob.equals(parsePublicKey(host.line).blob)).toBe(true);
    expect((await nodes.get(admin, 'web-server-01')).joinedAt).toEqual(clock.now());
    // A bot token is not a node token, and the same host key cannot be a second node.
    const second = await addNode('web-server-02', {});
    expect(isMeziteError(await failure(nodeJoins.join({ joinToken: second.joinToken, hostPublicKey: host.line, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' })), 'AlreadyExists')).toBe(true);
    // …and the failed join gave the token back.
    await nodeJoins.join({ joinToken: second.joinToken, hostPublicKey: keyPair('ed25519').line, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' });
  });

  test('renewal: the host key signs a single-use challenge; a wrong key, a reused challenge or a removed node is refused', async () => {
    const { joinToken } = await addNode('web-server-01', { env: 'staging' });
    const host = keyPair('ed25519');
    const joined = await nodeJoins.join({ joinToken, hostPublicKey: host.line, requestedTtlMs: 3600_000, requestId: 'r', source: '192.0.2.20' });
    const blob = parsePublicKey(host.line).blob;
    clock.advance(1800_000);
    const b = await nodeJoins.beginRenewal({ hostCertificate: joined.hostCertificate, requestId: 'r', source: '192.0.2.20' });
    const wrong = keyPair('ed25519');
    expect(isMeziteError(await failure(nodeJoins.completeRenewal({ challengeId: b.challengeId, signature: signRenewal(wrong.privateKey, b.challenge, blob), requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' })), 'Unauthenticated')).toBe(true);
    const b2 = await nodeJoins.beginRenewal({ hostCertificate: joined.hostCertificate, requestId: 'r', source: '192.0.2.20' });
    const sig = signRenewal(host.privateKey, b2.challenge, blob);
    const renewed = await nodeJoins.completeRenewal({ challengeId: b2.challengeId, signature: sig, requestedTtlMs: 3600_000, requestId: 'r', source: '192.0.2.20' });
    expect(parseCertificate(renewed.hostCertificate).validBefore).toEqual(new Date(clock.now().getTime() + 3600_000));
    expect(isMeziteError(await failure(nodeJoins.completeRenewal({ challengeId: b2.challengeId, signature: sig, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' })), 'Unauthenticated')).toBe(true);
    // A bot's certificate does not renew a node, and a host certificate does not renew a bot.
    const bot = await joinBot();
    expect(isMeziteError(await failure(nodeJoins.beginRenewal({ hostCertificate: bot.certificate, requestId: 'r', source: '192.0.2.20' })), 'Unauthenticated')).toBe(true);
    expect(isMeziteError(await failure(joins.renew(renewal(renewed.hostCertificate, host.privateKey, keyPair()))), 'Unauthenticated')).toBe(true);
    await nodes.delete(admin, 'web-server-01', 'r');
    expect(isMeziteError(await failure(nodeJoins.beginRenewal({ hostCertificate: renewed.hostCertificate, requestId: 'r', source: '192.0.2.20' })), 'Unauthenticated')).toBe(true);
  });

  test("a bot, by its certificate, sees only the nodes its roles reach, with its logins there; never as an admin", async () => {
    await addNode('staging-1', { env: 'staging' });
    await addNode('prod-1', { env: 'production', team: 'web' });
    await addNode('dev-1', { env: 'dev' });
    const bot = await joinBot();
    const p = await botPrincipal(bot.certificate, bot.key.privateKey);
    expect(p).toMatchObject({ kind: 'service', authMethod: 'bot-certificate', name: 'bot:github-deploy', roles: [] });
    const listed = await nodes.list(p, { pageSize: 0, pageToken: '' });
    expect(listed.nodes.map((n) => [n.name, n.logins])).toEqual([
      ['prod-1', ['deploy']],
      ['staging-1', ['deploy']],
    ]);
    expect(isMeziteError(await failure(nodes.get(p, 'dev-1')), 'NotFound')).toBe(true);
    expect(isMeziteError(await failure(nodes.add(p, { name: 'x', addr: '1.2.3.4', labels: {}, tokenTtlMs: 0, requestId: 'r' })), 'PermissionDenied')).toBe(true);
    // A stale signing time, another key, or a locked bot: refused.
    const cert = parseCertificate(bot.certificate).blob;
    const old = makeCertAuthCredential(cert, bot.key.privateKey, new Date(clock.now().getTime() - 301_000));
    expect(isMeziteError(await failure(certAuth.authenticate(old)), 'Unauthenticated')).toBe(true);
    expect(isMeziteError(await failure(certAuth.authenticate(makeCertAuthCredential(cert, keyPair().privateKey, clock.now()))), 'Unauthenticated')).toBe(true);
    await bots.lock(admin, 'github-deploy', { reason: 'test', ttlMs: 0 });
    expect(isMeziteError(await failure(botPrincipal(bot.certificate, bot.key.privateKey)), 'Unauthenticated')).toBe(true);
  });

  test('KRL: a lock revokes the bot’s live certificates until unlocked; removing a bot or node revokes theirs for good', async () => {
    const bot = await joinBot();
    const botCert = parseCertificate(bot.certificate);
    const ref = (c: ReturnType<typeof parseCertificate>) => ({ caPublicKeyBlob: c.signatureKey.blob, serial: c.serial, keyId: c.keyId });
    const revoked = async (c: ReturnType<typeof parseCertificate>) => isCertificateRevoked(parseKrl((await krl.current()).krl), ref(c));
    expect(await revoked(botCert)).toBe(false);
    await bots.lock(admin, 'github-deploy', { reason: 'incident', ttlMs: 0 });
    expect(await revoked(botCert)).toBe(true); // at once on this replica (the lock dropped the cache)
    await bots.unlock(admin, 'github-deploy');
    expect(await revoked(botCert)).toBe(false);
    await bots.lock(admin, 'github-deploy', { reason: 'one minute', ttlMs: 60_000 });
    expect(await revoked(botCert)).toBe(true);
    clock.advance(61_000);
    expect(await revoked(botCert)).toBe(false); // an expired lock no longer revokes
    await bots.delete(admin, 'github-deploy', 'r');
    expect(await revoked(botCert)).toBe(true);

    const { joinToken } = await addNode('web-1', { env: 'staging' });
    const hostCert = parseCertificate((await nodeJoins.join({ joinToken, hostPublicKey: keyPair('ed25519').line, requestedTtlMs: 0, requestId: 'r', source: '192.0.2.20' })).hostCertificate);
    clock.advance(1000);
    expect(await revoked(hostCert)).toBe(false);
    await nodes.delete(admin, 'web-1', 'r');
    expect(await revoked(hostCert)).toBe(true);
    expect((await krl.current()).revokedCertificates).toBe(2);
  });

  test('one certificate revoked by serial is in the KRL until it expires; others of the same bot are not', async () => {
    const bot = await joinBot();
    const first = parseCertificate(bot.certificate);
    const next = keyPair();
    const renewed = await joins.renew(renewal(bot.certificate, bot.key.privateKey, next));
    const second = parseCertificate(renewed.certificate);
    await krl.revokeSerial(tenantId, String(first.serial), 'key leaked', first.validBefore);
    const parsed = parseKrl((await krl.current()).krl);
    expect(isCertificateRevoked(parsed, { caPublicKeyBlob: first.signatureKey.blob, serial: first.serial, keyId: first.keyId })).toBe(true);
    expect(isCertificateRevoked(parsed, { caPublicKeyBlob: second.signatureKey.blob, serial: second.serial, keyId: second.keyId })).toBe(false);
    // The auth-server refuses the revoked certificate too: for renewal and as a credential.
    expect(isMeziteError(await failure(joins.renew(renewal(bot.certificate, bot.key.privateKey, keyPair()))), 'Unauthenticated')).toBe(true);
    expect(isMeziteError(await failure(botPrincipal(bot.certificate, bot.key.privateKey)), 'Unauthenticated')).toBe(true);
    expect((await botPrincipal(renewed.certificate, next.privateKey)).name).toBe('bot:github-deploy');
    clock.advance(3600_000 + 1000);
    expect((await krl.current()).revokedCertificates).toBe(0);
  });

  test('the KRL is rendered at most once per cache interval', async () => {
    const spy = jest.spyOn(ca, 'generateKrl');
    await Promise.all([krl.current(), krl.current(), krl.current()]);
    clock.advance(999);
    await krl.current();
    expect(spy).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await krl.current();
    expect(spy).toHaveBeenCalledTimes(2);
  });
});

