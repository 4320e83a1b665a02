import { randomBytes } from 'node:crypto';
import { allKeys, alreadyExists, constantTimeEqual, invalidArgument, isUuid, keyedHash, notFound, ringOf, unauthenticated, type Clock, type KeyRing, type KeyUsage, type MeziteError } from '@mezite/identity';
import { countOutcome, meziteMetrics, nullLogger, type Logger } from '@mezite/platform';
import { CLIENT_ID_PATTERN, CLIENT_SECRET_RANDOM_BYTES, MAX_CLIENT_SECRET_CHARS, MIN_CLIENT_SECRET_CHARS } from './client-secret';
import type { ClientSecret } from './client-secret';
import type { ClientSecretStore } from './client-secret-store';

/** Who a client secret authenticates. */
export interface ClientIdentity {
  tenantId: string;
  serviceIdentityId: string;
}

/** Options of ClientSecretManager. */
export interface ClientSecretManagerOptions {
  store: ClientSecretStore;
  clock: Clock;
  /** Server-side secret keying the stored hashes (shorthand for `peppers` without previous keys). */
  pepper?: Buffer;
  /** The current pepper, which hashes new secrets, and the previous ones, which still verify. */
  peppers?: KeyRing;
  /** Where a failed re-hash is reported; default silent. */
  logger?: Logger;
}

/** The one error for an unknown client and a wrong secret alike. */
const INVALID_CLIENT = 'invalid client credentials';

/**
 * Client secrets of service identities (OAuth2 client_credentials): set, verify in
 * constant time, delete. The secret is returned once, by `set`, and stored only as
 * its keyed hash.
 */
export class ClientSecretManager {
  private readonly store: ClientSecretStore;
  private readonly clock: Clock;
  private readonly peppers: KeyRing;
  private readonly logger: Logger;
  /** Compared against when the client is unknown, so both failures do the same work. */
  private readonly decoy: Buffer;

  constructor(opts: ClientSecretManagerOptions) {
    if (!opts.store || !opts.clock) throw new Error('ClientSecretManager: store and clock are required');
    this.peppers = ringOf(opts, 'ClientSecretManager');
    this.store = opts.store;
    this.clock = opts.clock;
    this.logger = opts.logger ?? nullLogger;
    this.decoy = keyedHash(this.peppers.current.key, randomBytes(32).toString('base64url'));
  }

  /**
   * Stores a new secret for the client, replacing its previous one, and returns the
   * plaintext once: `secret` when given (demo fixtures), else 32 random bytes,
   * base64url. AlreadyExists when the client id belongs to another identity.
   */
  async set(input: { tenantId: string; clientId: string; serviceIdentityId: string; secret?: string }): Promise<string> {
    if (!isUuid(input.tenantId) || !isUuid(input.serviceIdentityId)) throw invalidArgument('tenant_id and service_identity_id must be UUIDs');
    if (!CLIENT_ID_PATTERN.test(input.clientId)) throw invalidArgument("client_id: use 1 to 128 letters, digits and '._:@-', starting with a letter or digit");
    const secret = input.secret || newClientSecret();
    if (secret.length < MIN_CLIENT_SECRET_CHARS || secret.length > MAX_CLIENT_SECRET_CHARS) {
      throw invalidArgument(`secret must be ${MIN_CLIENT_SECRET_CHARS} to ${MAX_CLIENT_SECRET_CHARS} characters`);
    }
    const stored = await this.store.put({
      clientId: input.clientId,
      tenantId: input.tenantId,
      serviceIdentityId: input.serviceIdentityId,
      secretHash: keyedHash(this.peppers.current.key, secret),
      pepperId: this.peppers.current.id,
      createdAt: this.clock.now(),
    });
    if (!stored) throw alreadyExists('client id is taken by another identity');
    return secret;
  }

  /**
   * The identity the credentials authenticate as. Looks the client up, then compares
   * keyed hashes in constant time; an unknown client and a wrong secret get the same
   * Unauthenticated `invalid client credentials`.
   */
  verify(input: { clientId: string; secret: string }): Promise<{ tenantId: string; serviceIdentityId: string }> {
    return countOutcome(meziteMetrics.tokenVerifications, { kind: 'client_secret' }, () => this.check(input));
  }

  /**
   * `verify` for several credentials with one read of the store: each answer is the
   * identity or that credential's own Unauthenticated, decided exactly as `verify`
   * decides it (and counted the same). A store that cannot be read rejects them all.
   */
  async verifyMany(inputs: ReadonlyArray<{ clientId: string; secret: string }>): Promise<Array<ClientIdentity | MeziteError>> {
    const count = (result: 'success' | 'refused' | 'error', n = 1) => {
      for (let i = 0; i < n; i++) meziteMetrics.tokenVerifications.inc({ kind: 'client_secret', result });
    };
    const ids = inputs.map((i) => i.clientId).filter((id) => CLIENT_ID_PATTERN.test(id));
    let found: Map<string, ClientSecret>;
    try {
      found = new Map((ids.length > 0 ? await this.store.findMany(ids) : []).map((c) => [c.clientId, c]));
    } catch (err) {
      count('error', inputs.length);
      throw err;
    }
    const stale: Array<Promise<void>> = [];
    const results = inputs.map((input) => {
      try {
        const c = CLIENT_ID_PATTERN.test(input.clientId) ? (found.get(input.clientId) ?? null) : null;
        const r = this.decide(input, c);
        if (c && r.staleHash) stale.push(this.rehash(c, input.secret));
        count('success');
        return r.identity;
      } catch (err) {
        count('refused');
        return err as MeziteError;
      }
    });
    await Promise.all(stale);
    return results;
  }

  private async check(input: { clientId: string; secret: string }): Promise<ClientIdentity> {
    const c = CLIENT_ID_PATTERN.test(input.clientId) ? await this.store.find(input.clientId) : null;
    const r = this.decide(input, c);
    if (c && r.staleHash) await this.rehash(c, input.secret);
    return r.identity;
  }

  /**
   * Compares the presented secret's keyed hash under every configured pepper with the
   * stored hash (with a decoy when the client is unknown), each in constant time and all
   * of them every time: neither which pepper matched, nor whether the client exists,
   * changes the work done. `staleHash` when it matched under a previous pepper.
   */
  private decide(input: { clientId: string; secret: string }, c: ClientSecret | null): { identity: ClientIdentity; staleHash: boolean } {
    const stored = c ? c.secretHash : this.decoy;
    let matched = -1;
    allKeys(this.peppers).forEach((k, i) => {
      if (constantTimeEqual(keyedHash(k.key, input.secret), stored) && matched < 0) matched = i;
    });
    if (!c || matched < 0 || input.secret.length === 0) throw unauthenticated(INVALID_CLIENT);
    return { identity: { tenantId: c.tenantId, serviceIdentityId: c.serviceIdentityId }, staleHash: matched > 0 || c.pepperId !== this.peppers.current.id };
  }

  /**
   * Stores a verified secret's hash under the current pepper, so the previous one can be
   * dropped. Conditional on the old hash (a secret set meanwhile stands); a failure is
   * logged and the verification still succeeds: the old hash keeps working meanwhile.
   */
  private async rehash(c: ClientSecret, secret: string): Promise<void> {
    const to = keyedHash(this.peppers.current.key, secret);
    await this.store.rehash({ clientId: c.clientId, from: c.secretHash, to, pepperId: this.peppers.current.id }).catch((err: unknown) => {
      this.logger.warn('could not re-hash a client secret under the current pepper', { client_id: c.clientId, err });
    });
  }

  /** Secrets counted by the pepper their hash is under (for `keys status`). */
  keyUsage(): Promise<KeyUsage[]> {
    return this.store.countByPepper();
  }

  /** Removes the client's secret; NotFound when it has none. */
  async delete(clientId: string): Promise<void> {
    if (!CLIENT_ID_PATTERN.test(clientId) || !(await this.store.delete(clientId))) throw notFound('client secret not found');
  }
}

/**
 * A random client secret, base64url, never starting with `-`: a secret that looks like
 * an option is taken for one by command lines (`--client-secret -x…`), and the seed's
 * `--client-secret "$CLIENT_SECRET"` would then fail. Drawn again rather than changed,
 * so every secret keeps its full entropy over the allowed strings.
 */
export function newClientSecret(): string {
  for (;;) {
    const s = randomBytes(CLIENT_SECRET_RANDOM_BYTES).toString('base64url');
    if (!s.startsWith('-')) return s;
  }
}
