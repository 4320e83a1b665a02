import { randomBytes, randomUUID } from 'node:crypto';
import { alreadyExists, invalidArgument, isMeziteError, unauthenticated, type Clock } from '@mezite/identity';
import { nullLogger } from '@mezite/platform';
import { fingerprintSha256, parseCertificate, parsePublicKey, verifyCertificateSignature, verifyRenewal } from '@mezite/ssh';
import type { AuditLog } from './audit';
import type { CertAuthorityClient } from './cert-authority-client';
import type { JoinTokenStore } from './join-token';
import { type Node, type NodeStore, parseNodeAddr, refuseHostNamesOfOtherTenants } from './node';
import { MAX_HOST_CERT_TTL_MS } from './node-manager';
import { FailureLimiter } from './failure-limiter';
import { refused, type RefusalSubject } from './refusal';
import { RefusalAuditor, type RefusalEvent } from './refusal-auditor';
import type { RenewalChallengeStore } from './renewal-challenge';

/** Host certificates live a day unless the node asks otherwise; mezd node renews at ~2/3 of that. */
export const DEFAULT_HOST_CERT_TTL_MS = 24 * 3600_000;
const CHALLENGE_TTL_MS = 60_000;
/** Unused challenges a node may hold at once; a new one replaces the oldest. */
export const MAX_OPEN_NODE_CHALLENGES = 4;
/** BeginNodeRenewal calls per node per source address per minute (mezd makes one a renewal). */
export const NODE_RENEWALS_PER_MINUTE = 10;
const INVALID_JOIN_TOKEN = 'invalid join token';
const REFUSED_HOST_CERT = 'the host certificate was not issued by this cluster, has expired, or its node was removed';
const NODE_TOKEN = /^tok-node-[0-9a-f]{32}$/;
const HOST_KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);

/** A host certificate and what the node needs next to it. */
export interface IssuedHostCert {
  hostCertificate: string;
  userCertAuthorities: string[];
  hostCertAuthorities: string[];
  node: Node;
  principals: string[];
  expiresAt: Date;
}

/** Options of NodeJoinManager. */
export interface NodeJoinManagerOptions {
  nodes: NodeStore;
  /** Join tokens: a node's join redeems its token in the transaction that enrolls its host key. */
  tokens: JoinTokenStore;
  /** The hash a join token's plaintext is stored under (JoinTokens.storedHash). */
  tokenHash: (plaintext: string) => Buffer | Promise<Buffer>;
  ca: CertAuthorityClient;
  challenges: RenewalChallengeStore;
  audit: AuditLog;
  clock: Clock;
  /** Audits refused joins and renewals within its bounds; default: one of its own. */
  refusals?: RefusalAuditor;
  /** Counts refused host certificates per source (RESOURCE_EXHAUSTED past its limit); default 30 a minute. */
  failures?: Pick<FailureLimiter, 'check' | 'fail'>;
  /** Counts every BeginNodeRenewal per node and source; default NODE_RENEWALS_PER_MINUTE a minute. */
  renewals?: Pick<FailureLimiter, 'check' | 'fail'>;
  /** Unused challenges kept per node; default MAX_OPEN_NODE_CHALLENGES. */
  openChallenges?: number;
}

/**
 * Joins and renewals of nodes. A node joins once with its one-time `tok-node-…` token
 * and its existing host key (the private half never leaves the node); it renews by
 * signing a single-use challenge with that host key. The host certificate names the
 * node and the host of its address, so `ssh` verifies it by name (msh passes
 * HostKeyAlias) or by address.
 */
export class NodeJoinManager {
  private readonly refusals: RefusalAuditor;
  private readonly failures: Pick<FailureLimiter, 'check' | 'fail'>;
  private readonly renewals: Pick<FailureLimiter, 'check' | 'fail'>;
  private readonly openChallenges: number;

  constructor(private readonly o: NodeJoinManagerOptions) {
    for (const k of ['nodes', 'tokens', 'tokenHash', 'ca', 'challenges', 'audit', 'clock'] as const) if (!o[k]) throw new Error(`NodeJoinManager: ${k} is required`);
    this.refusals = o.refusals ?? new RefusalAuditor({ audit: o.audit, clock: o.clock, log: nullLogger });
    this.failures = o.failures ?? new FailureLimiter({ clock: o.clock, maxFailures: 30, windowMs: 60_000 });
    this.renewals = o.renewals ?? new FailureLimiter({ clock: o.clock, maxFailures: NODE_RENEWALS_PER_MINUTE, windowMs: 60_000 });
    this.openChallenges = o.openChallenges ?? MAX_OPEN_NODE_CHALLENGES;
    if (!(this.openChallenges >= 1)) throw new Error('NodeJoinManager: openChallenges must be ≥ 1');
  }

  /** Redeems a node join token for a host certificate on `hostPublicKey`. */
  async join(input: { joinToken: string; hostPublicKey: string; requestedTtlMs: number; requestId: string; source: string }): Promise<IssuedHostCert> {
    const hostKey = this.checkHostKey(input.hostPublicKey);
    const ttlMs = checkTtl(input.requestedTtlMs);
    const event: RefusalEvent = { type: 'node.join', requestId: input.requestId, source: input.source, credential: 'join token', target: 'node:?', fallbackReason: 'refused token' };
    if (!NODE_TOKEN.test(input.joinToken)) return this.refuse(event, INVALID_JOIN_TOKEN, 'malformed token');
    const fingerprint = fingerprintSha256(hostKey.blob);
    const at = this.o.clock.now();
    const hash = await this.o.tokenHash(input.joinToken);
    // Reads first: inside the redemption's transaction only ssh-ca is called and the
    // transaction's own connection written.
    const tok = await this.o.tokens.findByHash(hash);
    let done: { issued: IssuedHostCert; tokenId: string; replay?: true } | null = null;
    if (tok && !tok.redeemedAt && !tok.revokedAt && tok.expiresAt > at) {
      let node: Node | null = null;
      try {
        const subject = { tenantId: tok.tenantId, details: { token_id: tok.id } };
        if (tok.subjectKind !== 'node') throw refused(INVALID_JOIN_TOKEN, 'not a node join token', subject);
        node = await this.o.nodes.getById(tok.tenantId, tok.subjectId);
        if (!node) throw refused(INVALID_JOIN_TOKEN, 'the node was removed', subject);
        const other = await this.o.nodes.findByHostKey(fingerprint);
        if (other && other.id !== node.id) throw alreadyExists(`this host key is already enrolled as node "${other.name}"; remove that node first`);
        await refuseHostNamesOfOtherTenants(this.o.nodes, node);
        const n = node;
        done = await this.o.tokens.redeem(hash, at, async (t, writes) => {
          const issued = await this.issue(n, input.hostPublicKey, ttlMs, input.requestId);
          await writes.enrollNode(n.tenantId, n.id, { hostPublicKey: input.hostPublicKey.split(/\s+/).slice(0, 2).join(' '), hostKeyFingerprint: fingerprint, at, certExpiresAt: issued.expiresAt });
          return { issued: { ...issued, node: { ...n, hostPublicKey: input.hostPublicKey, hostKeyFingerprint: fingerprint, joinedAt: at, lastSeenAt: at, certExpiresAt: issued.expiresAt } }, tokenId: t.id };
        });
      } catch (err) {
        if (isMeziteError(err, 'Unauthenticated')) await this.refusals.refused(event, err);
        else await this.audit(tok.tenantId, 'node.join', `node:${node?.name ?? '?'}`, 'failure', input.requestId, { reason: (err as Error).message }).catch(() => undefined);
        throw err;
      }
    }
    if (!done) {
      // A retry of a join whose answer was lost (same token, same host key, now enrolled)
      // gets a host certificate again; anything else is the one refusal.
      const latest = done === null && tok && !tok.redeemedAt ? await this.o.tokens.findByHash(hash) : tok;
      const enrolled = latest?.redeemedAt && latest.subjectKind === 'node' ? await this.o.nodes.getById(latest.tenantId, latest.subjectId) : null;
      if (!latest || !enrolled || enrolled.hostKeyFingerprint !== fingerprint) {
        const reason = !latest ? 'unknown token' : latest.revokedAt ? 'revoked token' : latest.redeemedAt ? 'used token' : 'expired token';
        return this.refuse(event, INVALID_JOIN_TOKEN, reason, latest ? { tenantId: latest.tenantId, details: { token_id: latest.id } } : undefined);
      }
      const issued = await this.issue(enrolled, input.hostPublicKey, ttlMs, input.requestId);
      await this.o.nodes.recordRenewal(enrolled.tenantId, enrolled.id, { at, certExpiresAt: issued.expiresAt });
      done = { issued: { ...issued, node: { ...enrolled, lastSeenAt: at, certExpiresAt: issued.expiresAt } }, tokenId: latest.id, replay: true };
    }
    const n = done.issued.node;
    await this.audit(n.tenantId, 'node.join', `node:${n.name}`, 'success', input.requestId, { host_key: fingerprint, token_id: done.tokenId, ...('replay' in done ? { replay: 'true' } : {}) });
    return done.issued;
  }

  /**
   * Checks the node's current host certificate and returns a single-use challenge for
   * its host key. A host certificate is public (`ssh-keyscan -c`), so whoever holds one
   * is held to bounds: refused certificates count against the source (and are audited
   * within the RefusalAuditor's bounds), each node takes at most NODE_RENEWALS_PER_MINUTE
   * calls per source a minute, and keeps at most `openChallenges` unused challenges.
   */
  async beginRenewal(input: { hostCertificate: string; requestId: string; source: string }): Promise<{ challengeId: string; challenge: Buffer; expiresAt: Date }> {
    const event: RefusalEvent = { type: 'node.renew', requestId: input.requestId, source: input.source, credential: 'host certificate', target: 'node:?', fallbackReason: 'refused host certificate' };
    const node = await this.refusals.guard(this.failures, event, () => this.nodeOf(input.hostCertificate));
    const key = [`node:${node.id}@${input.source}`];
    try {
      this.renewals.check(key);
    } catch (err) {
      if (isMeziteError(err, 'ResourceExhausted')) await this.refusals.rateLimited(event, { tenantId: node.tenantId, actor: `node:${node.name}`, target: `node:${node.name}` });
      throw err;
    }
    await this.renewals.fail(key);
    const now = this.o.clock.now();
    const c = { id: randomUUID(), botId: node.id, tenantId: node.tenantId, subjectKind: 'node' as const, challenge: randomBytes(32), certificate: input.hostCertificate.trim(), presentedGeneration: 0, expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS) };
    await this.o.challenges.create(c, { keep: this.openChallenges, now });
    return { challengeId: c.id, challenge: c.challenge, expiresAt: c.expiresAt };
  }

  /** Checks the host key's signature over the challenge and issues a fresh host certificate. */
  async completeRenewal(input: { challengeId: string; signature: Buffer; requestedTtlMs: number; requestId: string; source: string }): Promise<IssuedHostCert> {
    const ttlMs = checkTtl(input.requestedTtlMs);
    const gone = unauthenticated('unknown or expired renewal challenge');
    if (!/^[0-9a-f-]{36}$/.test(input.challengeId)) throw gone;
    const ch = await this.o.challenges.consume(input.challengeId, this.o.clock.now());
    if (!ch || ch.subjectKind !== 'node') throw gone;
    const node = await this.nodeOf(ch.certificate);
    const cert = parseCertificate(ch.certificate);
    if (!verifyRenewal(cert.subjectKey, ch.challenge, cert.subjectKey.blob, input.signature)) {
      // Anyone can get a challenge for a public certificate, so this refusal is bounded too.
      const event: RefusalEvent = { type: 'node.renew', requestId: input.requestId, source: input.source, credential: 'host certificate', target: `node:${node.name}`, fallbackReason: 'bad proof of possession' };
      return this.refuse(event, 'the renewal signature does not match the host key', 'bad proof of possession', { tenantId: node.tenantId, actor: `node:${node.name}`, target: `node:${node.name}` });
    }
    const issued = await this.issue(node, node.hostPublicKey ?? '', ttlMs, input.requestId);
    await this.o.nodes.recordRenewal(node.tenantId, node.id, { at: this.o.clock.now(), certExpiresAt: issued.expiresAt });
    await this.audit(node.tenantId, 'node.renew', `node:${node.name}`, 'success', input.requestId, {});
    return issued;
  }

  /** The enrolled node a presented host certificate belongs to: trusted Host CA, unexpired, host key enrolled. */
  private async nodeOf(line: string): Promise<Node> {
    let cert;
    try {
      cert = parseCertificate(line);
    } catch {
      throw refused(REFUSED_HOST_CERT, 'malformed certificate');
    }
    if (cert.type !== 'host') throw refused(REFUSED_HOST_CERT, 'not a host certificate');
    const trusted = (await this.o.ca.publicKeys('host')).map((k) => Buffer.from(k.split(' ')[1] ?? '', 'base64'));
    if (!trusted.some((t) => t.equals(cert.signatureKey.blob)) || !verifyCertificateSignature(cert)) throw refused(REFUSED_HOST_CERT, 'untrusted certificate');
    const now = this.o.clock.now();
    if (cert.validAfter > now || cert.validBefore <= now) throw refused(REFUSED_HOST_CERT, 'expired certificate');
    const node = await this.o.nodes.findByHostKey(fingerprintSha256(cert.subjectKey.blob));
    if (!node) throw refused(REFUSED_HOST_CERT, 'unknown host key');
    return node;
  }

  private checkHostKey(line: string) {
    const key = parsePublicKey(line);
    if (!HOST_KEY_TYPES.has(key.type)) throw invalidArgument(`host_public_key: ${key.type} host keys are not supported; use the node's ed25519 or ECDSA host key (/etc/ssh/ssh_host_ed25519_key.pub)`);
    return key;
  }

  private async issue(node: Node, hostPublicKey: string, ttlMs: number, requestId: string): Promise<Omit<IssuedHostCert, 'node'> & { node: Node }> {
    const { host } = parseNodeAddr(node.addr);
    const principals = [...new Set([node.name, host])];
    const signed = await this.o.ca.sign({ type: 'host', publicKey: hostPublicKey, keyId: `node:${node.name}`, principals, ttlMs, tenantId: node.tenantId, subjectId: node.id, requestId });
    const [user, hostCas] = await Promise.all([this.o.ca.publicKeys('user'), this.o.ca.publicKeys('host')]);
    return { hostCertificate: signed.certificate, userCertAuthorities: user, hostCertAuthorities: hostCas, node, principals, expiresAt: signed.validBefore };
  }

  /** Audits a refusal within the RefusalAuditor's bounds and throws the one public error. */
  private async refuse(event: RefusalEvent, message: string, reason: string, subject?: RefusalSubject): Promise<never> {
    const err = refused(message, reason, subject);
    await this.refusals.refused(event, err);
    throw err;
  }

  private audit(tenantId: string | null, type: string, target: string, result: 'success' | 'failure', requestId: string, details: Record<string, string>): Promise<void> {
    return this.o.audit.record({ tenantId, type, actor: target === 'node:?' ? 'anonymous' : target, target, result, requestId, details });
  }
}

function checkTtl(ms: number): number {
  const ttl = ms > 0 ? ms : DEFAULT_HOST_CERT_TTL_MS;
  if (ttl < 60_000 || ttl > MAX_HOST_CERT_TTL_MS) throw invalidArgument('host certificate TTL must be between 1m and 30d');
  return ttl;
}
