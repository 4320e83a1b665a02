import type { ClientSecret } from '../domain/client-secret';
import type { ClientSecretStore } from '../domain/client-secret-store';

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
}
