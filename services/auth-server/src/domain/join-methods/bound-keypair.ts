import { randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { fingerprintSha256, formatPublicKey, parseBoundKeypairCredential, parsePublicKey, parsePublicKeyBlob, verifyBoundKeypairStatement, type BoundKeypairProof, type SshPublicKey } from '@mezite/ssh';
import { refused } from '../refusal';
import { INVALID_JOIN } from './id-token-verifier';
import type { JoinAttempt, JoinMethod, JoinResource, VerifiedJoin } from './join-method';

/** The issuer under which bound-keypair proofs are remembered as used (with the resource and nonce as `jti`). */
export const BOUND_KEYPAIR_ISSUER = 'mezite:bound_keypair';
/** How far a proof's signed time may be from the server's clock (as RenewBot). */
export const BOUND_KEYPAIR_WINDOW_MS = 120_000;
/** Recoveries allowed when the resource does not say. */
export const DEFAULT_MAX_RECOVERIES = 3;
/** What an admin may set in `spec.bound_keypair`. */
const SETTINGS = ['public_key', 'registration_secret', 'max_recoveries'];
/** What the server keeps in the resource's options as joins happen (shown by `join-tokens show`, never set in YAML). */
const STATE = ['bound_public_key', 'instance_id', 'recoveries', 'registration_secret_hash', 'registration'];
const KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521']);

function joinKey(line: string, field: string): SshPublicKey {
  let k: SshPublicKey;
  try {
    k = parsePublicKey(line.trim());
  } catch (err) {
    throw invalidArgument(`${field}: ${(err as Error).message}`);
  }
  if (!KEY_TYPES.has(k.type)) throw invalidArgument(`${field}: a join key must be Ed25519 or ECDSA, not ${k.type}`);
  return k;
}

/** The join key a resource accepts now: the last rotated-to key, or the registered one. */
export function boundKeyOf(r: Pick<JoinResource, 'options'>): string {
  return r.options.bound_public_key || r.options.public_key || '';
}

/** How many recoveries a resource allows. */
export function maxRecoveriesOf(r: Pick<JoinResource, 'options'>): number {
  return r.options.max_recoveries === undefined ? DEFAULT_MAX_RECOVERIES : Number(r.options.max_recoveries);
}

/**
 * The `bound_keypair` method: the admin registers a machine's long-lived join key
 * (`spec.bound_keypair.public_key`); the machine joins by signing a statement bound to
 * the resource's audience, the key to certify, the time and a nonce. The first join
 * creates an instance; a later join is a recovery (allowed only once every
 * certificate of the previous instance has expired — the join manager checks that and
 * treats a join during a live lineage as a copy) and counts against `max_recoveries`.
 * A join may rotate the join key: the new key signs the same statement, and the
 * resource binds it from then on.
 */
export class BoundKeypairJoinMethod implements JoinMethod {
  readonly name = 'bound_keypair';

  /** `secretHash`: the keyed hash one-time registration secrets are stored under (as join tokens are); without it none can be generated. */
  constructor(private readonly o: { secretHash?: (plaintext: string) => Buffer | Promise<Buffer> } = {}) {}

  /** `registration_secret: generate` becomes a secret shown once, stored as its keyed hash only. */
  async prepare(options: Record<string, string>): Promise<{ options: Record<string, string>; shown: Record<string, string> }> {
    if (options.registration_secret === undefined) return { options, shown: {} };
    if (!this.o.secretHash) throw invalidArgument('spec.bound_keypair.registration_secret: this server cannot generate registration secrets');
    const { registration_secret: _generate, ...rest } = options;
    const secret = `bkr_${randomBytes(24).toString('base64url')}`;
    const hash = Buffer.from(await this.o.secretHash(secret)).toString('hex');
    return { options: { ...rest, registration_secret_hash: hash }, shown: { registration_secret: secret } };
  }

  checkResource(r: Pick<JoinResource, 'allow' | 'options'>): void {
    for (const k of Object.keys(r.options)) {
      if (STATE.includes(k)) throw invalidArgument(`spec.bound_keypair.${k}: kept by the server, not set in a resource`);
      if (!SETTINGS.includes(k)) throw invalidArgument(`spec.bound_keypair.${k}: unknown setting; expected one of ${SETTINGS.join(', ')}`);
    }
    if (r.allow.length > 0) throw invalidArgument('spec.allow: a bound_keypair join is allowed by its key; it takes no allow rules');
    const secret = r.options.registration_secret;
    if (secret !== undefined && secret !== 'generate') throw invalidArgument('spec.bound_keypair.registration_secret: the only value is "generate" (the server makes the secret and shows it once)');
    if (!r.options.public_key === (secret === undefined)) throw invalidArgument('spec.bound_keypair: set public_key (the machine\'s join key, one authorized_keys line) or registration_secret: generate, exactly one');
    if (r.options.public_key) joinKey(r.options.public_key, 'spec.bound_keypair.public_key');
    const max = r.options.max_recoveries;
    if (max !== undefined && (!/^\d{1,4}$/.test(max) || Number(max) > 1000)) throw invalidArgument('spec.bound_keypair.max_recoveries: expected a whole number from 0 to 1000');
  }

  async verify(a: JoinAttempt): Promise<VerifiedJoin> {
    const r = a.resource;
    const subject = (reason: string, details: Record<string, string> = {}) => refused(INVALID_JOIN, reason, { tenantId: r.tenantId, target: `bot:${r.botName}`, details: { join_token: r.name, join_method: this.name, ...details } });
    if (!a.publicKey) throw subject('no key to certify');
    let p: BoundKeypairProof;
    try {
      p = parseBoundKeypairCredential(a.credential);
    } catch {
      throw subject('malformed proof');
    }
    const bound = boundKeyOf(r);
    const presented = fingerprintSha256(p.joinKeyBlob);
    let key: SshPublicKey;
    let registering = false;
    /** A retried rotation whose answer was lost: the new key, already bound, signs too; nothing is rebound. */
    let rotatedBefore = false;
    if (bound) {
      key = parsePublicKey(bound);
      if (!key.blob.equals(p.joinKeyBlob)) {
        if (p.newJoinKeyBlob.length === 0 || !key.blob.equals(p.newJoinKeyBlob)) throw subject('wrong join key', { presented_key: presented });
        rotatedBefore = true;
      }
    } else {
      // No key yet: the one-time registration secret binds the key the machine presents (and proves it holds, below).
      if (!r.options.registration_secret_hash || !p.registrationSecret) throw subject('no join key registered', { presented_key: presented });
      if (!(await this.secretMatches(p.registrationSecret, r.options.registration_secret_hash))) throw subject('wrong registration secret', { presented_key: presented });
      try {
        key = parsePublicKeyBlob(p.joinKeyBlob);
      } catch {
        throw subject('malformed join key', { presented_key: presented });
      }
      if (!KEY_TYPES.has(key.type)) throw subject('unusable join key', { presented_key: presented });
      registering = true;
    }
    let newKey: SshPublicKey | undefined;
    if (rotatedBefore) {
      // The statement's signer is the retired key; the bound key's own signature is what admits it.
      newKey = key;
      try {
        key = parsePublicKeyBlob(p.joinKeyBlob);
      } catch {
        throw subject('malformed join key', { presented_key: presented });
      }
    } else if (p.newJoinKeyBlob.length > 0) {
      try {
        newKey = parsePublicKeyBlob(p.newJoinKeyBlob);
      } catch {
        throw subject('malformed new join key', { presented_key: presented });
      }
      if (!KEY_TYPES.has(newKey.type) || newKey.blob.equals(key.blob)) throw subject('unusable new join key', { presented_key: presented });
    }
    const statement = { audience: a.audience, certPublicKeyBlob: a.publicKey.blob, timeMs: p.timeMs, nonce: p.nonce, joinKeyBlob: p.joinKeyBlob, newJoinKeyBlob: p.newJoinKeyBlob };
    if (!verifyBoundKeypairStatement(statement, key, p.signature, newKey, p.newKeySignature)) throw subject('bad signature', { presented_key: presented });
    if (rotatedBefore) newKey = undefined;
    if (Math.abs(a.now.getTime() - p.timeMs) > BOUND_KEYPAIR_WINDOW_MS) throw subject('signed time out of window', { presented_key: presented, signed_at: new Date(p.timeMs).toISOString() });
    const previousInstanceId = r.options.instance_id || null;
    const used = Number(r.options.recoveries ?? '0');
    const max = maxRecoveriesOf(r);
    const { registration_secret_hash: _spent, ...kept } = r.options;
    const options: Record<string, string> = { ...kept, recoveries: String(previousInstanceId ? used + 1 : used) };
    if (registering) options.bound_public_key = formatPublicKey(key.blob);
    if (newKey) options.bound_public_key = formatPublicKey(newKey.blob);
    const details: Record<string, string> = { join_key: presented, recovery: String(previousInstanceId !== null), ...(registering ? { registered: 'true' } : {}) };
    if (newKey) details.new_join_key = fingerprintSha256(newKey.blob);
    return {
      issuer: BOUND_KEYPAIR_ISSUER,
      jti: `${r.id}:${p.nonce.toString('hex')}`,
      expiresAt: new Date(p.timeMs + 2 * BOUND_KEYPAIR_WINDOW_MS),
      details,
      binding: { revision: r.revision, options, previousInstanceId, exhausted: previousInstanceId !== null && used >= max },
    };
  }

  private async secretMatches(secret: string, storedHex: string): Promise<boolean> {
    if (!this.o.secretHash || secret.length > 200) return false;
    const got = Buffer.from(await this.o.secretHash(secret));
    const want = Buffer.from(storedHex, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
