import type { KeyUsage } from '@mezite/identity';
import type { ClientSecret } from './client-secret';

/**
 * Persistence of client secrets (STYLE.md §4), one per client id. Implemented on
 * Prisma/PostgreSQL and in memory; both pass `store/client-secret-store.contract.ts`.
 */
export interface ClientSecretStore {
  /**
   * Stores the secret, replacing the client's previous one, in one statement — but
   * only if the client id is new or already belongs to the same tenant and service
   * identity. Returns false (and writes nothing) when it belongs to another.
   */
  put(secret: ClientSecret): Promise<boolean>;
  /** The client's secret, or null. */
  find(clientId: string): Promise<ClientSecret | null>;
  /** The secrets of those of `clientIds` that have one, in one read (any order). */
  findMany(clientIds: readonly string[]): Promise<ClientSecret[]>;
  /** Removes the client's secret; false if there was none. */
  delete(clientId: string): Promise<boolean>;
  /**
   * Replaces the client's hash `from` by `to` under pepper `pepperId`, in one conditional
   * statement (only while the hash is still `from`: a secret set meanwhile stands).
   */
  rehash(input: { clientId: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean>;
  /** Secrets counted by the id of the pepper their hash is under. */
  countByPepper(): Promise<KeyUsage[]>;
  /** Records `pepperId` on every secret without one (hashed before peppers had ids); how many. */
  stampPepper(pepperId: string): Promise<number>;
}
