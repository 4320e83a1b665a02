import { SERVICE_DATABASE_ROLES, serviceDatabaseUrl, type ServiceRole } from '@mezite/platform';
import type { StackSecrets } from './secrets';

/** The services of the stack (as in stack.ts's SERVICES). */
type ServiceName = keyof typeof SERVICE_DATABASE_ROLES;

/** The keys a rotation passes while it runs (docs/OPERATIONS.md, "Rotate"), each for one service only. */
const PREVIOUS_KEYS = ['MEZITE_TOKEN_PEPPER_PREVIOUS', 'MEZITE_SESSION_PEPPER_PREVIOUS', 'MEZITE_CA_KEK_PREVIOUS'] as const;

/**
 * Every environment key that carries a secret or a credential. None is inherited from
 * the stack's own environment or from StackOptions.env: a process gets one only
 * through secretEnv, below.
 */
export const SECRET_ENV_KEYS = ['DATABASE_URL', 'PGPASSWORD', 'REDIS_URL', 'MEZITE_TOKEN_PEPPER', 'MEZITE_SESSION_PEPPER', 'MEZITE_CA_KEK', 'MEZITE_AUDIT_KEY', 'MEZITE_AUDIT_SIGNING_KEY', ...PREVIOUS_KEYS] as const;

/** Each service's role with its password from the data dir's secrets. */
export function serviceRoles(secrets: StackSecrets): Record<ServiceName, ServiceRole> {
  return {
    'auth-server': { ...SERVICE_DATABASE_ROLES['auth-server'], password: secrets.auth_db_password },
    'token-service': { ...SERVICE_DATABASE_ROLES['token-service'], password: secrets.token_db_password },
    'ssh-ca': { ...SERVICE_DATABASE_ROLES['ssh-ca'], password: secrets.sshca_db_password },
  };
}

/**
 * The one place that decides which secret each process gets: its own database role's
 * URL and its own keys, nothing of another's. The development OpenID Provider gets
 * none. A new secret is one more entry in its service's map (and its key in
 * SECRET_ENV_KEYS).
 */
export function secretEnv(o: { secrets: StackSecrets; adminDatabaseUrl: string; redisUrl?: string | undefined; env?: NodeJS.ProcessEnv }): Record<ServiceName | 'dev-oidc', NodeJS.ProcessEnv> {
  const roles = serviceRoles(o.secrets);
  const db = (s: ServiceName) => serviceDatabaseUrl(o.adminDatabaseUrl, roles[s].role, roles[s].password);
  // Previous keys during a rotation, from the stack's environment, to their one service.
  const previous = (k: (typeof PREVIOUS_KEYS)[number]) => (o.env?.[k] ? { [k]: o.env[k] } : {});
  return {
    'auth-server': {
      DATABASE_URL: db('auth-server'),
      MEZITE_SESSION_PEPPER: o.secrets.session_pepper,
      ...previous('MEZITE_SESSION_PEPPER_PREVIOUS'),
      MEZITE_AUDIT_KEY: o.secrets.audit_key,
      MEZITE_AUDIT_SIGNING_KEY: o.secrets.audit_signing_key,
      // Failed-authentication limits shared by the replicas.
      ...(o.redisUrl ? { REDIS_URL: o.redisUrl } : {}),
    },
    'token-service': {
      DATABASE_URL: db('token-service'),
      MEZITE_TOKEN_PEPPER: o.secrets.token_pepper,
      ...previous('MEZITE_TOKEN_PEPPER_PREVIOUS'),
      ...(o.redisUrl ? { REDIS_URL: o.redisUrl } : {}),
    },
    'ssh-ca': {
      DATABASE_URL: db('ssh-ca'),
      MEZITE_CA_KEK: o.secrets.ca_kek,
      ...previous('MEZITE_CA_KEK_PREVIOUS'),
    },
    'dev-oidc': {},
  };
}

/** `env` without any secret key (SECRET_ENV_KEYS), as the common base of every process. */
export function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of SECRET_ENV_KEYS) delete out[k];
  return out;
}
