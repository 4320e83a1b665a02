import type { SshCertificate } from './certificate';
import type { BotRenewalProof } from './renewal-proof';

/** The extension the auth server puts its claims in (`{v, bot, bot_id, inst, gen, …}` as JSON). */
export const CLAIMS_EXTENSION = 'mezite@mezite.dev';

/** What a bot certificate says about the instance it belongs to. */
export interface BotCertificateClaims {
  /** `inst`; a certificate issued before instances existed names its bot (`bot_id`) instead. */
  instanceId?: string;
  /** `gen`: the certificate's generation. */
  generation?: number;
}

/**
 * Reads the instance and generation from a bot certificate's claims, as the auth
 * server reads them from a presented certificate. A certificate without readable
 * claims yields nothing (the caller falls back to what it saved).
 */
export function botCertificateClaims(cert: SshCertificate): BotCertificateClaims {
  const raw = cert.extensions[CLAIMS_EXTENSION];
  if (!raw) return {};
  let claims: { inst?: unknown; bot_id?: unknown; gen?: unknown };
  try {
    claims = JSON.parse(raw) as typeof claims;
  } catch {
    return {};
  }
  if (typeof claims !== 'object' || claims === null) return {};
  // As the auth server reads it (`instanceOf`): `inst` whenever it is a string.
  const instanceId = typeof claims.inst === 'string' ? claims.inst : typeof claims.bot_id === 'string' ? claims.bot_id : undefined;
  const generation = Number.isSafeInteger(claims.gen) ? (claims.gen as number) : undefined;
  return { ...(instanceId !== undefined ? { instanceId } : {}), ...(generation !== undefined ? { generation } : {}) };
}

/**
 * The renewal proof for presenting `cert` and asking for `newPublicKeyBlob` at `timeMs`:
 * instance, generation and serial come from the certificate, as the server takes them
 * (`fallback` only for a certificate without claims). The same function builds what
 * mezd signs and what its test servers and the end-to-end tests verify.
 */
export function botRenewalProof(cert: SshCertificate, newPublicKeyBlob: Buffer, timeMs: number, fallback: { instanceId: string; generation: number } = { instanceId: '', generation: 0 }): BotRenewalProof {
  const claims = botCertificateClaims(cert);
  return {
    instanceId: claims.instanceId ?? fallback.instanceId,
    generation: claims.generation ?? fallback.generation,
    serial: cert.serial,
    newPublicKeyBlob,
    timeMs,
  };
}
