/** A bot: a machine principal (kind `service`) that holds renewable SSH certificates. */
export interface Bot {
  id: string;
  tenantId: string;
  name: string;
  roles: string[];
  createdAt: Date;
}

/** Persistence of bots; every method is scoped to one tenant. */
export interface BotStore {
  /** AlreadyExists when the tenant already has a bot of that name. */
  create(bot: Bot): Promise<void>;
  get(tenantId: string, name: string): Promise<Bot | null>;
  /** Bots of the tenant ordered by name, after `afterName`, at most `limit`. */
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Bot[]>;
  /** Removes the bot; false when there was none. */
  delete(tenantId: string, id: string): Promise<boolean>;
}
