import type { PrincipalKind } from './identity-ref';

/**
 * How a caller proved who it is. Only an interactive session may mint API tokens
 * (the anti-escalation rule of seed 000), so every authenticated call carries this.
 */
export type AuthMethod = 'interactive-session' | 'bootstrap-admin' | 'api-token' | 'bot-certificate';

/** An authenticated caller, as the auth-server's middleware puts it in the call context. */
export interface Principal {
  kind: PrincipalKind;
  /** The principal's UUID. */
  id: string;
  /** The UUID of the principal's tenant. Nothing crosses tenants. */
  tenantId: string;
  /** A display name (bot name, user email, `bootstrap-admin`). */
  name: string;
  authMethod: AuthMethod;
  /** Authentication context class of an interactive session. */
  acr?: string;
  /** Authentication methods of an interactive session. */
  amr?: string[];
  /** Roles granted to the principal (admin roles for people, bot roles for bots). */
  roles: string[];
  /** The session behind the credential, when it is one (so that logout can end it). */
  sessionId?: string;
  /**
   * The API token behind the credential, when it is one: a caller holding an API token
   * may rotate that token and no other (issue 14).
   */
  apiTokenId?: string;
}
