import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { FakeClock, type Principal } from '@mezite/identity';
import { formatPublicKey, generateCaKey, makeCertAuthCredential, parseCertificate, signCertificate, type SshCertificate } from '@mezite/ssh';
import { MemoryAuditLog } from '../store/memory-audit-log';
import type { MemoryBotInstanceStore } from '../store/memory-bot-instance-store';
import { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryRoleStore } from '../store/memory-role-store';
import { BotManager } from './bot-manager';
import { CertAuthenticator } from './cert-authenticator';
import type { JoinManager } from './join-manager';
import { refusalOf } from './refusal';
import { RoleManager } from './role-manager';
import { botWorld, FakeCa } from './test-doubles';

const ROLE = `kind: role
metadata:
  name: ci-deployer
spec:
  allow:
    logins: [deploy]
`;

function keyPair(): { line: string; privateKey: KeyObject } {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { line: formatPublicKey(k.publicKey), privateKey: k.privateKey };
}

/**
 * Every refused `SshCert` credential gets one error; the reason rides on it as a
 * Refusal for the audit log, naming the bot only once the CA's signature is verified.
 */
describe('CertAuthenticator refusals', () => {
  const tenantId = randomUUID();
  const admin: Principal = { kind: 'user', id: randomUUID(), tenantId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'] };
  let clock: FakeClock;
  let ca: FakeCa;
  let bots: BotManager;
  let joins: JoinManager;
  let instances: MemoryBotInstanceStore;
  let certAuth: CertAuthenticator;
  const revoked = new Set<string>();

  beforeEach(async () => {
    clock = new FakeClock('2026-06-01T10:00:00Z');
    ca = new FakeCa(clock);
    const botStore = new MemoryBotStore();
    const roles = new RoleManager({ store: new MemoryRoleStore(), bots: botStore, clock });
    await roles.upsert(admin, { yaml: ROLE, fileName: 'role.yaml', force: false });
    const world = botWorld({ clock, ca, roles, botStore, audit: new MemoryAuditLog() });
    ({ joins, instances } = world);
    bots = new BotManager({ store: botStore, joinTokens: world.joinTokens, instances, clock, roles });
    certAuth = new CertAuthenticator({ ca, bots: botStore, instances, clock, revocations: { isCertificateRevoked: async (serial) => revoked.has(serial) } });
  });

  const joinBot = async (name: string) => {
    const created = await bots.create(admin, { name, roles: ['ci-deployer'], tokenTtlMs: 3600_000 });
    const key = keyPair();
    const r = await joins.join({ joinToken: created.joinToken, publicKey: key.line, requestedTtlMs: 3600_000, requestId: 'r', source: '192.0.2.10' });
    return { key: key.privateKey, cert: parseCertificate(r.certificate), instanceId: r.instanceId, botId: created.bot.id };
  };
  const resign = (c: SshCertificate, caKey: KeyObject, validAfter: Date, validBefore: Date) =>
    signCertificate({ ca: { key: caKey }, subjectKey: c.subjectKey.blob, type: 'user', serial: c.serial, keyId: c.keyId, principals: c.principals, validAfter, validBefore, extensions: c.extensions }).blob;
  const attempt = async (credential: string) => {
    try {
      await certAuth.authenticate(credential);
      return { answer: 'accepted' };
    } catch (err) {
      const r = refusalOf(err);
      return { answer: `${(err as { code: string }).code}: ${(err as Error).message}`, reason: r?.reason, tenantId: r?.subject.tenantId, target: r?.subject.target };
    }
  };

  test('each reason, with one answer for all', async () => {
    const { key, cert } = await joinBot('msh');
    const now = clock.now().getTime();
    const flipped = Buffer.from(cert.blob);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
    const removed = await joinBot('removed');
    await bots.delete(admin, 'removed');
    const locked = await joinBot('locked');
    await bots.lock(admin, 'locked', { reason: 'test', ttlMs: 0 });
    // The bot stays usable; only the instance the certificate names is locked or gone.
    const copied = await joinBot('copied');
    const lockedAt = clock.now();
    await instances.lockAndRevoke(tenantId, copied.instanceId, { reason: 'copied credential', lockedAt, expiresAt: null, lockedBy: 'mezite' }, [], lockedAt);
    const dropped = await joinBot('dropped');
    instances.deleteForBot(dropped.botId);
    const gone = await joinBot('revoked');
    revoked.add(gone.cert.serial.toString());
    const cred = (blob: Buffer, k: KeyObject = key, at = clock.now()) => makeCertAuthCredential(blob, k, at);
    const bot = (name: string) => ({ tenantId, target: `bot:${name}` });
    const anonymous = { tenantId: undefined, target: undefined };

    const cases: Record<string, [string, { reason: string; tenantId: string | undefined; target: string | undefined }]> = {
      malformed: ['not-a-credential', { reason: 'malformed', ...anonymous }],
      'signed 10 minutes ago': [cred(cert.blob, key, new Date(now - 600_000)), { reason: 'signing time out of range', ...anonymous }],
      'another CA': [cred(resign(cert, generateCaKey('ed25519').privateKey, new Date(now - 60_000), new Date(now + 3600_000))), { reason: 'not issued by a trusted CA', ...anonymous }],
      'changed signature': [cred(flipped), { reason: 'bad certificate signature', ...anonymous }],
      expired: [cred(resign(cert, ca.user.privateKey, new Date(now - 7200_000), new Date(now - 3600_000))), { reason: 'expired', ...bot('msh') }],
      'not yet valid': [cred(resign(cert, ca.user.privateKey, new Date(now + 3600_000), new Date(now + 7200_000))), { reason: 'not yet valid', ...bot('msh') }],
      'signed by another key': [cred(cert.blob, keyPair().privateKey), { reason: 'bad proof of possession', ...bot('msh') }],
      'revoked by serial': [cred(gone.cert.blob, gone.key), { reason: 'revoked', ...bot('revoked') }],
      'removed bot': [cred(removed.cert.blob, removed.key), { reason: 'bot removed', ...bot('removed') }],
      'locked bot': [cred(locked.cert.blob, locked.key), { reason: 'bot locked', ...bot('locked') }],
      'locked instance': [cred(copied.cert.blob, copied.key), { reason: 'instance locked', ...bot('copied') }],
      'removed instance': [cred(dropped.cert.blob, dropped.key), { reason: 'instance removed', ...bot('dropped') }],
    };
    for (const [what, [credential, want]] of Object.entries(cases)) {
      expect({ what, ...(await attempt(credential)) }).toEqual({ what, answer: 'Unauthenticated: invalid certificate credential', ...want });
    }
    expect(await attempt(cred(cert.blob))).toEqual({ answer: 'accepted' });
    // Another instance of the bot whose instance was locked is not affected.
    const more = await bots.addInstance(admin, 'copied', 3600_000);
    const other = keyPair();
    const second = await joins.join({ joinToken: more.joinToken, publicKey: other.line, requestedTtlMs: 3600_000, requestId: 'r', source: '192.0.2.11' });
    expect(await attempt(cred(parseCertificate(second.certificate).blob, other.privateKey))).toEqual({ answer: 'accepted' });
  });
});
