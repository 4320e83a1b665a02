import type { KeyUsage } from '@mezite/identity';
import type { ClientSecret } from '../domain/client-secret';
import type { ClientSecretStore } from '../domain/client-secret-store';
import { countKeys } from './key-usage';

const copy = (c: ClientSecret): ClientSecret => ({ ...c, secretHash: Buffer.from(c.secretHash) });

/** ClientSecretStore in memory, for unit tests and single-process use. */
export class MemoryClientSecretStore implements ClientSecretStore {
  private readonly byClient = new Map<string, ClientSecret>();

  async put(c: ClientSecret): Promise<boolean> {
    const prev = this.byClient.get(c.clientId);
    if (prev && (prev.tenantId !== c.tenantId || prev.serviceIdentityId !== c.serviceIdentityId)) return false;
    this.byClient.set(c.clientId, copy(c));
    return true;
  }

  async find(clientId: string): Promise<ClientSecret | null> {
    const c = this.byClient.get(clientId);
    return c ? copy(c) : null;
  }

  async findMany(clientIds: readonly string[]): Promise<ClientSecret[]> {
    return [...new Set(clientIds)].flatMap((id) => {
      const c = this.byClient.get(id);
      return c ? [copy(c)] : [];
    });
  }

  async delete(clientId: string): Promise<boolean> {
    return this.byClient.delete(clientId);
  }

  async rehash(r: { clientId: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean> {
    const c = this.byClient.get(r.clientId);
    if (!c || !c.secretHash.equals(r.from)) return false;
    this.byClient.set(r.clientId, { ...c, secretHash: Buffer.from(r.to), pepperId: r.pepperId });
    return true;
  }

  async countByPepper(): Promise<KeyUsage[]> {
    return countKeys([...this.byClient.values()].map((c) => c.pepperId));
  }

  async stampPepper(pepperId: string): Promise<number> {
    let n = 0;
    for (const c of this.byClient.values()) {
      if (c.pepperId === undefined) {
        c.pepperId = pepperId;
        n++;
      }
    }
    return n;
  }
}

