/**
 * In-process stand-ins for ssh-ca, for the auth-server's unit tests (the end-to-end
 * tests run the real services): certificates are really signed by CA keys and logged,
 * and the KRL is a real OpenSSH KRL over that log. `botWorld` wires the bot, instance
 * and join-token stores in memory with the managers that use them.
 */
import { failedPrecondition, notFound, type Clock, type KeyRing } from '@mezite/identity';
import { encodeKrl, generateCaKey, parsePublicKey, signCertificate, type CaKeyPair } from '@mezite/ssh';
import { MemoryBotInstanceStore } from '../store/memory-bot-instance-store';
import type { MemoryBotStore } from '../store/memory-bot-store';
import { MemoryJoinTokenStore } from '../store/memory-join-token-store';
import type { AuditLog } from './audit';
import { BotCertificates } from './bot-certificates';
import type { CaInfo, CertAuthorityClient, SignedCert } from './cert-authority-client';
import { JoinManager } from './join-manager';
import { JoinTokens } from './join-token';
import type { NodeStore } from './node';
import type { RefusalAuditor } from './refusal-auditor';
import type { Revocation, RevocationList } from './revocation';
import type { RoleManager } from './role-manager';

interface Logged {
  serial: bigint;
  type: 'user' | 'host';
  ca: CaKeyPair;
  subjectId: string;
  tenantId: string;
  keyId: string;
  validBefore: Date;
}

/** A CA pair that signs in process, like ssh-ca does, and keeps an issued-certificate log. */
export class FakeCa implements CertAuthorityClient {
  user = generateCaKey('ecdsa-p256');
  host = generateCaKey('ecdsa-p256');
  failNext = false;
  readonly log: Logged[] = [];
  private serial = 100n;
  constructor(private readonly clock: Clock) {}

  async sign(i: Parameters<CertAuthorityClient['sign']>[0]): Promise<SignedCert> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('ssh-ca down');
    }
    const now = this.clock.now();
    const validAfter = new Date(now.getTime() - 60_000);
    const validBefore = new Date(now.getTime() + i.ttlMs);
    const ca = i.type === 'user' ? this.user : this.host;
    const serial = this.serial++;
    const c = signCertificate({ ca: { key: ca.privateKey }, subjectKey: parsePublicKey(i.publicKey), type: i.type, serial, keyId: `${i.keyId}/${serial}`, principals: i.principals, validAfter, validBefore, extensions: i.extensions ?? {} });
    this.log.push({ serial, type: i.type, ca, subjectId: i.subjectId ?? '', tenantId: i.tenantId, keyId: `${i.keyId}/${serial}`, validBefore });
    return { certificate: c.line, serial: String(serial), validAfter, validBefore };
  }
  async publicKeys(type: 'user' | 'host') {
    return [(type === 'user' ? this.user : this.host).publicKeyLine];
  }
  async status(): Promise<CaInfo[]> {
    return (['user', 'host'] as const).map((type) => ({ type, publicKey: (type === 'user' ? this.user : this.host).publicKeyLine, fingerprint: '', state: 'active' as const, createdAt: new Date(0), lastCertificateExpiresAt: null }));
  }
  async rotate(): Promise<CaInfo[]> {
    throw failedPrecondition('the fake CA does not rotate; the rotation is tested against ssh-ca');
  }
  async generateKrl(input: { subjectIds: string[]; serials: string[] }) {
    const now = this.clock.now();
    const hit = this.log.filter((c) => c.validBefore > now && (input.subjectIds.includes(c.subjectId) || input.serials.includes(String(c.serial))));
    const certificates = [this.user, this.host].map((ca) => ({ caPublicKeyBlob: Buffer.from(ca.publicKeyLine.split(' ')[1] ?? '', 'base64'), serials: hit.filter((c) => c.ca === ca).map((c) => c.serial) })).filter((s) => s.serials.length);
    return { krl: encodeKrl({ version: 1n, generatedAt: now, comment: '', certificates }), generatedAt: now, revokedCertificates: hit.length };
  }
  async issuedCertificate(serial: string) {
    const c = this.log.find((x) => String(x.serial) === serial);
    if (!c) throw notFound(`no certificate with serial ${serial}`);
    return { serial, tenantId: c.tenantId, subjectId: c.subjectId, keyId: c.keyId, validBefore: c.validBefore };
  }
}

/** The in-memory stores and managers of bots, their instances and join tokens, wired as main.ts wires them. */
export function botWorld(o: { clock: Clock; ca: CertAuthorityClient; roles: RoleManager; botStore: MemoryBotStore; audit: AuditLog; revocations?: RevocationList; revocationStore?: { add(r: Revocation): Promise<void> }; nodes?: NodeStore; copyLockScope?: 'instance' | 'bot'; refusals?: Pick<RefusalAuditor, 'refused'>; peppers?: KeyRing }) {
  const instances = new MemoryBotInstanceStore({ bots: o.botStore, ...(o.revocationStore ? { revocations: o.revocationStore } : {}) });
  const tokenStore = new MemoryJoinTokenStore({ instances, ...(o.nodes ? { nodes: o.nodes } : {}) });
  const joinTokens = new JoinTokens({ store: tokenStore, clock: o.clock, ...(o.peppers ? { peppers: o.peppers } : { pepper: Buffer.alloc(32, 7) }) });
  const tokenHash = (t: string) => joinTokens.storedHash(t);
  const certs = new BotCertificates({ roles: o.roles, ca: o.ca, clock: o.clock });
  const joins = new JoinManager({
    bots: o.botStore,
    instances,
    tokens: tokenStore,
    tokenHash,
    certs,
    audit: o.audit,
    clock: o.clock,
    ...(o.revocations ? { revocations: o.revocations } : {}),
    ...(o.refusals ? { refusals: o.refusals } : {}),
    ...(o.copyLockScope ? { copyLockScope: o.copyLockScope } : {}),
  });
  return { instances, tokenStore, joinTokens, tokenHash, certs, joins };
}
