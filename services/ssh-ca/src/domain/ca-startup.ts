import type { Clock, KeyRing } from '@mezite/identity';
import type { Logger } from '@mezite/platform';
import { CaManager } from './ca-manager';
import type { CaAlgorithm, CertAuthorityStore } from './cert-authority';
import { CertificateSigner } from './certificate-signer';
import type { IssuedCertificateStore } from './issued-certificate';

/** What ssh-ca needs to bring its CAs up. */
export interface CaStartupOptions {
  store: CertAuthorityStore;
  issued: IssuedCertificateStore;
  keks: KeyRing;
  algorithm: CaAlgorithm;
  clock: Clock;
  log: Logger;
}

/**
 * ssh-ca's CAs at start, in an order that fails closed: first every CA key not under the
 * current key-encryption key is re-wrapped under it (a KEK missing from the configuration
 * stops the start with its id named — before anything could make a new CA), then each
 * type gets its active CA (made on first start only), then the signer opens the active
 * keys. Safe with replicas starting at once (CaManager.rewrapKeys, ensure).
 */
export async function startCertAuthorities(o: CaStartupOptions): Promise<{ cas: CaManager; signer: CertificateSigner }> {
  const cas = new CaManager({ store: o.store, clock: o.clock, keks: o.keks, algorithm: o.algorithm, issued: o.issued });
  const rewrapped = await cas.rewrapKeys();
  o.log.info('CA keys sealed under the current key-encryption key', { kek_id: o.keks.current.id, previous: o.keks.previous.map((k) => k.id), rewrapped });
  for (const ca of await cas.ensure()) o.log.info('certificate authority ready', { type: ca.type, fingerprint: ca.fingerprint, algorithm: ca.algorithm });
  const signer = new CertificateSigner({ store: o.issued, cas, keks: o.keks, clock: o.clock, logger: o.log });
  await signer.load(); // a key that does not open fails here, not at the first request
  return { cas, signer };
}
