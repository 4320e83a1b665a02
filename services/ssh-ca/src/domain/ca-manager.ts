import { randomUUID } from 'node:crypto';
import { failedPrecondition, isMeziteError, unavailable, type Clock, type KeyRing, type KeyUsage } from '@mezite/identity';
import { fingerprintSha256, generateCaKey } from '@mezite/ssh';
import { type CaAlgorithm, type CaState, type CaType, type CertAuthority, type CertAuthorityStore, isTrusted } from './cert-authority';
import type { IssuedCertificateStore } from './issued-certificate';
import { DEFAULT_CA_REFRESH_MS } from './certificate-signer';
import { kekRingOf, openCaKey, sealPrivateKey } from './key-encryption';

/** Options of CaManager. */
export interface CaManagerOptions {
  store: CertAuthorityStore;
  clock: Clock;
  /** Key-encryption key sealing CA private keys at rest (32 bytes); shorthand for `keks` without previous keys. */
  kek?: Buffer;
  /** The current KEK, which seals every CA key, and the previous ones, which only open keys until they are re-wrapped. */
  keks?: KeyRing;
  /** Algorithm of newly made CAs. */
  algorithm: CaAlgorithm;
  /** The issued-certificate log: completing a rotation waits for the old CA's certificates to expire. */
  issued?: Pick<IssuedCertificateStore, 'lastExpiry'>;
  /**
   * How long a signer may keep signing with the CA it read before (CertificateSigner's
   * caRefreshMs, every replica's). `complete` waits until this long (and a second more)
   * has passed since `switch`, so no replica signs with a CA after it stopped being trusted.
   */
  signerRefreshMs?: number;
  /** Waits `ms` (tests pass a fake); default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** Clock skew between replicas and a sign call in flight while a signer re-reads the CAs. */
const SWITCH_SETTLE_MARGIN_MS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A rotation step (`mezctl ca rotate --phase`). */
export type RotationPhase = 'init' | 'switch' | 'complete' | 'rollback';

/** A trusted CA and when the last certificate it signed expires. */
export interface CaStatus extends CertAuthority {
  lastCertificateExpiresAt: Date | null;
}

/**
 * Creates, lists and rotates the User and Host CAs. A rotation runs in phases so a
 * fleet never sees a certificate it does not trust: `init` adds a new CA that is
 * trusted everywhere but does not sign; `switch` makes it sign while the old one stays
 * trusted; `complete` stops trusting the old one once every certificate it signed has
 * expired (or with `force`). `rollback` drops a new CA that never signed.
 */
export class CaManager {
  private readonly keks: KeyRing;

  constructor(private readonly opts: CaManagerOptions) {
    if (!opts.store || !opts.clock) throw new Error('CaManager: store and clock are required');
    this.keks = kekRingOf(opts, 'CaManager');
  }

  /**
   * Seals every CA key (retired ones too) not yet under the current KEK under it: opened
   * with the KEK its id names (Internal naming the id when that KEK is not configured),
   * sealed again, and written with a conditional UPDATE on the old sealed bytes, so
   * replicas starting at once re-wrap each key once and agree on the result. Returns how
   * many this call re-wrapped. Run at start, before `ensure`: a KEK that opens nothing
   * stops the start, and never leads to a new CA.
   */
  async rewrapKeys(): Promise<number> {
    let n = 0;
    for (const ca of await this.opts.store.list()) {
      if (ca.kekId === this.keks.current.id) continue;
      const { der } = openCaKey(this.keks, ca);
      try {
        const to = sealPrivateKey(this.keks.current.key, ca.id, der);
        if (await this.opts.store.rewrap({ id: ca.id, from: ca.encryptedPrivateKey, to, kekId: this.keks.current.id })) n++;
      } finally {
        der.fill(0);
      }
    }
    return n;
  }

  /** CA keys (retired ones too) counted by the KEK they are sealed under (for `mezite-keys ssh-ca status`). */
  keyUsage(): Promise<KeyUsage[]> {
    return this.opts.store.countByKek();
  }

  /** Makes sure each type has an active CA, creating key pairs on first start. */
  async ensure(): Promise<CertAuthority[]> {
    const out: CertAuthority[] = [];
    for (const type of ['user', 'host'] as const) {
      const active = (await this.opts.store.list(type)).find((c) => c.state === 'active');
      out.push(active ?? (await this.opts.store.insertActiveIfNone(this.newCa(type, 'active'))));
    }
    return out;
  }

  /** The trusted CAs (not retired), oldest first, optionally of one type. */
  async list(type?: CaType): Promise<CertAuthority[]> {
    return (await this.opts.store.list(type)).filter(isTrusted);
  }

  /** Every CA including retired ones (the signer must never certify any CA key). */
  listAll(): Promise<CertAuthority[]> {
    return this.opts.store.list();
  }

  /** The trusted CAs with the expiry of their last certificate. */
  async status(type?: CaType): Promise<CaStatus[]> {
    const cas = await this.list(type);
    return Promise.all(cas.map(async (ca) => ({ ...ca, lastCertificateExpiresAt: (await this.opts.issued?.lastExpiry(ca.id)) ?? null })));
  }

  /** Runs one rotation phase for `type`; FailedPrecondition names what to do when the phase does not apply. */
  async rotate(type: CaType, phase: RotationPhase, opts: { force?: boolean } = {}): Promise<CaStatus[]> {
    const cas = await this.opts.store.list(type);
    const by = (s: CaState) => cas.find((c) => c.state === s);
    const next = by('next');
    const active = by('active');
    const previous = by('previous');
    const now = this.opts.clock.now();
    const moved = (ok: boolean) => {
      if (!ok) throw failedPrecondition(`the ${type} CA changed while rotating (another admin or replica); run mezctl ca ls and retry`);
    };
    switch (phase) {
      case 'init': {
        if (next) throw failedPrecondition(`a ${type} CA rotation is already in phase init (new CA ${next.fingerprint}); run --phase switch or --phase rollback`);
        if (previous) throw failedPrecondition(`the previous ${type} CA rotation is not complete; run --phase complete first`);
        try {
          await this.opts.store.insertNext(this.newCa(type, 'next'));
        } catch (err) {
          if (isMeziteError(err, 'AlreadyExists')) throw failedPrecondition(`a ${type} CA rotation was started concurrently; run mezctl ca ls`);
          throw err;
        }
        break;
      }
      case 'switch': {
        if (!next || !active) throw failedPrecondition(`no ${type} CA rotation is in phase init; run --phase init first`);
        moved(await this.opts.store.transition(type, [{ id: active.id, from: 'active', to: 'previous' }, { id: next.id, from: 'next', to: 'active' }], now));
        break;
      }
      case 'complete': {
        if (next) throw failedPrecondition(`the new ${type} CA does not sign yet; run --phase switch first`);
        if (!previous) throw failedPrecondition(`no ${type} CA rotation is in progress; run --phase init to start one`);
        // A replica that read the CAs just before `switch` signs with the previous CA until
        // its next read: let every one of them move on first (with --force too: a
        // certificate signed after `complete` by a CA no longer trusted would never work).
        const settleMs = (this.opts.signerRefreshMs ?? DEFAULT_CA_REFRESH_MS) + SWITCH_SETTLE_MARGIN_MS;
        const switchedAt = (active?.stateChangedAt ?? active?.createdAt ?? now).getTime();
        const wait = Math.min(settleMs, switchedAt + settleMs - now.getTime());
        if (wait > 0) await (this.opts.sleep ?? sleep)(wait);
        if (!opts.force) {
          if (!this.opts.issued) throw unavailable('the issued-certificate log is not available');
          const last = await this.opts.issued.lastExpiry(previous.id);
          if (last && last > this.opts.clock.now()) {
            throw failedPrecondition(`certificates signed by the previous ${type} CA are valid until ${last.toISOString()}; completing now would break them. Run again after that, or pass --force`);
          }
        }
        moved(await this.opts.store.transition(type, [{ id: previous.id, from: 'previous', to: 'retired' }], this.opts.clock.now()));
        break;
      }
      case 'rollback': {
        if (!next) throw failedPrecondition(`only a rotation in phase init can be rolled back (the new ${type} CA has signed nothing yet)`);
        moved(await this.opts.store.transition(type, [{ id: next.id, from: 'next', to: 'retired' }], now));
        break;
      }
    }
    return this.status(type);
  }

  /** The next phase of a rotation of `type`: init, then switch, then complete. */
  async nextPhase(type: CaType): Promise<RotationPhase> {
    const cas = await this.opts.store.list(type);
    if (cas.some((c) => c.state === 'next')) return 'switch';
    if (cas.some((c) => c.state === 'previous')) return 'complete';
    return 'init';
  }

  private newCa(type: CaType, state: CaState): CertAuthority {
    const id = randomUUID();
    const key = generateCaKey(this.opts.algorithm);
    const blob = Buffer.from(key.publicKeyLine.split(' ')[1] ?? '', 'base64');
    const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
    return {
      id,
      type,
      algorithm: this.opts.algorithm,
      publicKey: key.publicKeyLine.split(' ').slice(0, 2).join(' '),
      fingerprint: fingerprintSha256(blob),
      encryptedPrivateKey: sealPrivateKey(this.keks.current.key, id, der),
      kekId: this.keks.current.id,
      state,
      createdAt: this.opts.clock.now(),
    };
  }
}
