import type { AllowRule } from '@mezite/identity';
import type { SshPublicKey } from '@mezite/ssh';

/** A provision resource (`kind: join_token`) as stored: who may join as which bot, by which method. */
export interface JoinResource {
  id: string;
  tenantId: string;
  name: string;
  botId: string;
  botName: string;
  joinMethod: string;
  allow: AllowRule[];
  /** The `aud` an ID token must carry; empty for the default (`joinAudience`). */
  audience: string;
  expiresAt: Date | null;
  /** The method's own settings (`spec.<method>`), validated by the method. */
  options: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
  revision: number;
}

/** What a delegated method proved about the machine. */
export interface VerifiedJoin {
  /** The ID token's issuer and `jti`: together they are used once (remembered until `expiresAt`). */
  issuer: string;
  jti: string;
  expiresAt: Date;
  /** What the audit record of the join keeps (never the token itself). */
  details: Record<string, string>;
  /**
   * For a method that keeps state in its resource (bound_keypair): the options to store
   * if the join commits, written only if the resource is still at `revision`; the
   * instance the previous join created (its lineage must have ended, or this is a
   * copy); and whether this join is a recovery beyond the allowed number.
   */
  binding?: { revision: number; options: Record<string, string>; previousInstanceId: string | null; exhausted: boolean };
}

/** What a method is given to check a machine's credential. */
export interface JoinAttempt {
  credential: string;
  resource: JoinResource;
  /** The audience the credential must name. */
  audience: string;
  now: Date;
  /** The key the join is to certify (a proof of possession may be bound to it). */
  publicKey?: SshPublicKey;
}

/**
 * A way for a machine to prove who it is (STYLE.md §6: an interface and a file per
 * implementation). A provision resource names its method; the join manager looks the
 * method up by name, lets it check the resource when an admin stores it and the
 * credential when a machine joins, and does everything else itself (replay, instance,
 * certificate, audit). Adding a method is a file in this folder, its entry in
 * `index.ts`, and its contract test.
 */
export interface JoinMethod {
  readonly name: string;
  /** InvalidArgument naming the field when the resource's rules or settings do not fit this method. */
  checkResource(r: Pick<JoinResource, 'allow' | 'options'>): void;
  /**
   * Verifies the credential against the resource. A credential that does not prove
   * what the resource asks is refused (`refused(…)`, Unauthenticated, with the precise
   * reason in the Refusal for the audit log); a dependency that cannot answer (the
   * issuer's keys) is Unavailable, never an admission.
   */
  verify(attempt: JoinAttempt): Promise<VerifiedJoin>;
  /**
   * Settings the server derives when a resource is stored (after `checkResource`): the
   * options to store, and what the admin is shown once (a generated secret, of which only
   * a keyed hash is stored).
   */
  prepare?(options: Record<string, string>): Promise<{ options: Record<string, string>; shown: Record<string, string> }>;
}
