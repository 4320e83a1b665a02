import { randomBytes } from 'node:crypto';
import { alreadyExists, constantTimeEqual, invalidArgument, isUuid, keyedHash, notFound, unauthenticated, type Clock, type MeziteError } from '@mezite/identity';
import { countOutcome, meziteMetrics } from '@mezite/platform';
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
  /** Server-side secret keying the stored hashes. */
  pepper: Buffer;
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
  private readonly pepper: Buffer;
  /** Compared against when the client is unknown, so both failures do the same work. */
  private readonly decoy: Buffer;

  constructor(opts: ClientSecretManagerOptions) {
    if (!opts.store || !opts.clock) throw new Error('ClientSecretManager: store and clock are required');
    if (!opts.pepper || opts.pepper.length < 32) throw new Error('ClientSecretManager: a pepper of at least 32 bytes is required');
    this.store = opts.store;
    this.clock = opts.clock;
    this.pepper = opts.pepper;
    this.decoy = keyedHash(this.pepper, randomBytes(32).toString('base64url'));
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
      secretHash: keyedHash(this.pepper, secret),
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
    return inputs.map((input) => {
      try {
        const r = this.decide(input, CLIENT_ID_PATTERN.test(input.clientId) ? (found.get(input.clientId) ?? null) : null);
        count('success');
        return r;
      } catch (err) {
        count('refused');
        return err as MeziteError;
      }
    });
  }

  private async check(input: { clientId: string; secret: string }): Promise<ClientIdentity> {
    return this.decide(input, CLIENT_ID_PATTERN.test(input.clientId) ? await this.store.find(input.clientId) : null);
  }

  /** Compares keyed hashes in constant time (against a decoy when the client is unknown). */
  private decide(input: { clientId: string; secret: string }, c: ClientSecret | null): ClientIdentity {
    const presented = keyedHash(this.pepper, input.secret);
    const ok = constantTimeEqual(presented, c ? c.secretHash : this.decoy);
    if (!c || !ok || input.secret.length === 0) throw unauthenticated(INVALID_CLIENT);
    return { tenantId: c.tenantId, serviceIdentityId: c.serviceIdentityId };
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
