import { type KeyObject, randomFillSync } from 'node:crypto';
import { type Clock, failedPrecondition, internal, invalidArgument, isMeziteError, type KeyRing } from '@mezite/identity';
import { meziteMetrics, type Logger } from '@mezite/platform';
import { encodePublicKey, fingerprintSha256, importCaPrivateKey, signCertificate } from '@mezite/ssh';
import type { CaType, CertAuthority } from './cert-authority';
import { type CertificateRequest, checkCertificateRequest } from './certificate-request';
import type { IssuedCertificate, IssuedCertificateStore } from './issued-certificate';
import { kekRingOf, openCaKey } from './key-encryption';

/** Validity starts this long before "now", so a client whose clock is a little behind can use a certificate at once. */
export const CLOCK_SKEW_SECONDS = 60;
/** How long the signer trusts what it read about the CAs before reading them again. */
export const DEFAULT_CA_REFRESH_MS = 5000;
/** Serials drawn before giving up; a 63-bit collision twice in a row means something else is wrong. */
const MAX_SERIAL_ATTEMPTS = 3;

/** Where the signer reads the CAs: CaManager. */
export interface CaSource {
  /** Every CA, retired ones included (no CA key, however old, may be certified). */
  listAll(): Promise<CertAuthority[]>;
}

/** Options of CertificateSigner. */
export interface CertificateSignerOptions {
  /** The issued-certificate log, written before a certificate is returned. */
  store: IssuedCertificateStore;
  cas: CaSource;
  /** Key-encryption key that opens the CA private keys (32 bytes); shorthand for `keks` without previous keys. */
  kek?: Buffer;
  /** The KEKs that open the CA private keys: each key with the one its id names. */
  keks?: KeyRing;
  clock: Clock;
  logger: Logger;
  /** How often, at most, the CAs are read again (to follow a rotation); default 5 s. */
  caRefreshMs?: number;
}

/** A signed certificate and what was logged about it. */
export interface SignedSshCertificate {
  /** One `authorized_keys`-style line (`…-cert-v01@openssh.com <base64> <key id>`). */
  certificate: string;
  /** Random, 1 .. 2^63-1, unique per CA. */
  serial: bigint;
  /** The key id in the certificate: `<requested key id>/<serial>`. */
  keyId: string;
  validAfter: Date;
  validBefore: Date;
  caId: string;
  caFingerprint: string;
}

interface ActiveCa {
  ca: CertAuthority;
  /** Opened on first use and kept while this CA stays active. */
  key?: KeyObject;
}

interface CaSnapshot {
  /** Clock time (ms) of the read. */
  readAt: number;
  active: Map<CaType, ActiveCa>;
  /** Fingerprints of every CA, active or not: none of them may be certified. */
  caFingerprints: Set<string>;
}

/**
 * Signs user and host certificates with the active CA of their type and logs each one
 * before returning it. The CA private key is decrypted and imported once and kept as
 * a KeyObject; the CA list is read again at most every `caRefreshMs`, so a rotation
 * (another CA becoming active) takes effect within that time without a read per
 * request. Fails closed: a certificate whose log write failed is never returned.
 */
export class CertificateSigner {
  private readonly store: IssuedCertificateStore;
  private readonly cas: CaSource;
  private readonly keks: KeyRing;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly refreshMs: number;
  private snapshot: CaSnapshot | undefined;
  private reading: Promise<CaSnapshot> | undefined;
  /** Bumped by `invalidate`: a read that began before it does not become the snapshot. */
  private epoch = 0;

  constructor(opts: CertificateSignerOptions) {
    if (!opts.store || !opts.cas || !opts.clock || !opts.logger) throw new Error('CertificateSigner: store, cas, clock and logger are required');
    const keks = kekRingOf(opts, 'CertificateSigner');
    const refreshMs = opts.caRefreshMs ?? DEFAULT_CA_REFRESH_MS;
    if (!Number.isFinite(refreshMs) || refreshMs < 0) throw new Error('CertificateSigner: caRefreshMs must be a non-negative number');
    this.store = opts.store;
    this.cas = opts.cas;
    this.keks = keks;
    this.clock = opts.clock;
    this.log = opts.logger;
    this.refreshMs = refreshMs;
  }

  /**
   * Reads the CAs and opens every active private key now, so a wrong key-encryption
   * key or a damaged key fails at start-up rather than at the first request.
   */
  async load(): Promise<void> {
    const snap = await this.read(this.clock.now().getTime());
    for (const entry of snap.active.values()) this.keyOf(entry);
  }

  /**
   * Checks `req` (`InvalidArgument` naming the field), signs with the active CA of
   * its type (`FailedPrecondition` when there is none), logs the certificate and
   * returns it. Validity is `now − 60 s` to `now + ttl`, in whole seconds. A log write
   * that fails fails the call (the error is the store's: `Unavailable`, …).
   */
  async sign(req: CertificateRequest): Promise<SignedSshCertificate> {
    const checked = checkCertificateRequest(req);
    const snap = await this.current();
    const publicKeyFingerprint = fingerprintSha256(checked.subjectKey.blob);
    if (snap.caFingerprints.has(publicKeyFingerprint)) throw invalidArgument('public_key is one of the CA keys; a CA key is never certified');
    const entry = snap.active.get(checked.type);
    if (!entry) throw failedPrecondition(`there is no active ${checked.type} CA`);
    const key = this.keyOf(entry);
    const now = this.clock.now();
    const seconds = Math.floor(now.getTime() / 1000);
    const validAfter = new Date((seconds - CLOCK_SKEW_SECONDS) * 1000);
    const validBefore = new Date((seconds + checked.ttlSeconds) * 1000);

    for (let attempt = 1; ; attempt++) {
      const serial = randomSerial();
      const serialText = serial.toString();
      const keyId = `${checked.keyId}/${serialText}`;
      const cert = signCertificate({
        ca: { key },
        subjectKey: checked.subjectKey,
        type: checked.type,
        serial,
        keyId,
        principals: checked.principals,
        validAfter,
        validBefore,
        criticalOptions: checked.criticalOptions,
        extensions: checked.extensions,
      });
      const record: IssuedCertificate = {
        caId: entry.ca.id,
        serial,
        type: checked.type,
        keyId,
        principals: checked.principals,
        subjectId: checked.subjectId,
        tenantId: checked.tenantId,
        publicKeyFingerprint,
        validAfter,
        validBefore,
        createdAt: now,
      };
      try {
        await this.store.insert(record);
      } catch (err) {
        if (!isMeziteError(err, 'AlreadyExists')) throw err;
        if (attempt >= MAX_SERIAL_ATTEMPTS) throw internal('could not log the certificate under a unique serial', { cause: err });
        this.log.warn('certificate serial already logged; drawing another', { ca_id: entry.ca.id, serial: serialText, attempt });
        continue;
      }
      meziteMetrics.certificatesIssued.inc({ ca: entry.ca.fingerprint, type: checked.type });
      this.log.debug('certificate issued', { ca_fingerprint: entry.ca.fingerprint, type: checked.type, key_id: keyId, serial: serialText, principals: checked.principals, subject_id: checked.subjectId, valid_before: validBefore.toISOString() });
      return { certificate: cert.line, serial, keyId, validAfter, validBefore, caId: entry.ca.id, caFingerprint: entry.ca.fingerprint };
    }
  }

  /**
   * Forgets what the signer read about the CAs: the next certificate is signed with the
   * CAs as stored now. Called after a rotation phase on this replica, so it signs with
   * the new CA at once; other replicas follow within the refresh interval, which
   * `complete` waits out (CaManager).
   */
  invalidate(): void {
    this.epoch++;
    this.reading = undefined;
    if (this.snapshot) this.snapshot = { ...this.snapshot, readAt: Number.NEGATIVE_INFINITY };
  }

  /** The CA snapshot, read again when older than the refresh interval (one read at a time). */
  private current(): Promise<CaSnapshot> {
    const now = this.clock.now().getTime();
    const s = this.snapshot;
    if (s && now >= s.readAt && now - s.readAt < this.refreshMs) return Promise.resolve(s);
    this.reading ??= this.read(now).finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async read(now: number): Promise<CaSnapshot> {
    const before = this.snapshot;
    const epoch = this.epoch;
    let cas: CertAuthority[];
    try {
      cas = await this.cas.listAll();
    } catch (err) {
      if (!before) throw err;
      // Keep signing with what we had (the old CA stays trusted during a rotation); retry after the interval.
      this.log.warn('cannot read the CAs; signing with the ones read before', { err });
      const kept = { ...before, readAt: now };
      if (epoch === this.epoch) this.snapshot = kept;
      return kept;
    }
    const active = new Map<CaType, ActiveCa>();
    for (const ca of cas) {
      if (ca.state !== 'active') continue;
      const kept = before?.active.get(ca.type);
      if (kept?.ca.id === ca.id) {
        active.set(ca.type, kept);
        continue;
      }
      active.set(ca.type, { ca });
      if (before) this.log.info('active CA changed', { type: ca.type, ca_id: ca.id, fingerprint: ca.fingerprint, previous: kept?.ca.fingerprint ?? null });
    }
    const snap = { readAt: now, active, caFingerprints: new Set(cas.map((c) => c.fingerprint)) };
    if (epoch === this.epoch) this.snapshot = snap;
    return snap;
  }

  /** The CA's KeyObject, decrypted, imported and checked against its public key once. */
  private keyOf(entry: ActiveCa): KeyObject {
    if (entry.key) return entry.key;
    const { ca } = entry;
    const { der } = openCaKey(this.keks, ca);
    let key: KeyObject;
    try {
      key = importCaPrivateKey(der);
    } catch (err) {
      throw internal(`the private key of ${ca.type} CA ${ca.id} cannot sign certificates`, { cause: err });
    } finally {
      der.fill(0);
    }
    if (fingerprintSha256(encodePublicKey(key)) !== ca.fingerprint) throw internal(`the private key of ${ca.type} CA ${ca.id} does not match its public key`);
    this.log.info('CA private key opened', { type: ca.type, ca_id: ca.id, fingerprint: ca.fingerprint });
    entry.key = key;
    return key;
  }
}

// A call into OpenSSL's RNG costs a few µs, a tenth of a signature: serials are cut
// from a pool refilled every 256 certificates, each byte handed out once.
const serialPool = Buffer.alloc(2048);
let serialOffset = serialPool.length;

/** A random serial in 1 .. 2^63-1: unguessable, and positive as a signed bigint column. */
export function randomSerial(): bigint {
  for (;;) {
    if (serialOffset + 8 > serialPool.length) {
      randomFillSync(serialPool);
      serialOffset = 0;
    }
    const serial = serialPool.readBigUInt64BE(serialOffset) & 0x7fff_ffff_ffff_ffffn;
    serialOffset += 8;
    if (serial !== 0n) return serial;
  }
}
