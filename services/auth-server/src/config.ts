import { join } from 'node:path';
import { field, invalidArgument, isLoopbackHost, keyRing, loadConfig, parse, requireSecureUrl } from '@mezite/identity';
import { commonConfigSchema, retentionConfigSchema } from '@mezite/platform';
import type { TenantConfig } from './bootstrap';
import { TrustedProxies } from './http/trusted-proxies';

/**
 * `MEZITE_TENANTS`: a JSON list of tenants with their machine identity provider, e.g.
 * `[{"domain":"acme","machine_idp":{"kind":"oauth2","token_endpoint":"https://idp/token"},
 *    "service_identities":[{"name":"ci","client_id":"ci"}]}]`.
 */
function parseTenants(raw: string): TenantConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new Error('expected a JSON list of tenants');
  }
  if (!Array.isArray(doc)) throw new Error('expected a JSON list of tenants');
  return doc.map((t: Record<string, unknown>, i) => {
    if (typeof t.domain !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(t.domain)) throw new Error(`tenant ${i}: domain must be a lower-case DNS label`);
    const idp = t.machine_idp as Record<string, unknown> | undefined;
    const out: TenantConfig = { domain: t.domain };
    if (idp) {
      if (idp.kind === 'builtin') out.machineIdp = { kind: 'builtin' };
      else if (idp.kind === 'oauth2' && typeof idp.token_endpoint === 'string') {
        // The auth-server sends callers' client secrets there: never in cleartext over a network.
        requireSecureUrl(idp.token_endpoint, `tenant ${t.domain}: machine_idp.token_endpoint`);
        out.machineIdp = { kind: 'oauth2', tokenEndpoint: idp.token_endpoint, ...(typeof idp.scope === 'string' ? { scope: idp.scope } : {}) };
      } else throw new Error(`tenant ${t.domain}: machine_idp must be {"kind":"builtin"} or {"kind":"oauth2","token_endpoint":"https://…"}`);
    }
    const sis = t.service_identities;
    if (sis !== undefined) {
      if (!Array.isArray(sis)) throw new Error(`tenant ${t.domain}: service_identities must be a list`);
      out.serviceIdentities = sis.map((s: Record<string, unknown>) => {
        if (typeof s.name !== 'string' || typeof s.client_id !== 'string') throw new Error(`tenant ${t.domain}: each service identity needs name and client_id`);
        return { name: s.name, clientId: s.client_id };
      });
    }
    return out;
  });
}

/**
 * `MEZITE_OIDC_ISSUER`: https, or http only on a loopback host (the quickstart's
 * development provider); compared with `iss` exactly as written (Auth0's ends in `/`).
 */
function parseIssuer(raw: string): string {
  const u = requireSecureUrl(raw, 'issuer');
  if (u.search || u.hash) throw new Error('an issuer has no query or fragment');
  return raw;
}

/**
 * Where the auth-server finds token-service or ssh-ca: `host:port`, or a gRPC target
 * naming every replica, `ipv4:10.0.0.1:3026,10.0.0.2:3026` (also `ipv6:`) or
 * `dns:///token-service.mezite:3026`, over which calls are balanced round robin.
 */
function grpcTarget(raw: string): string {
  const list = /^(ipv4|ipv6):(.+)$/.exec(raw);
  if (list) {
    for (const a of (list[2] as string).split(',')) parse.hostPort(a);
    return raw;
  }
  const dns = /^dns:(?:\/\/[^/]*\/)?(.+)$/.exec(raw);
  if (dns) {
    parse.hostPort(dns[1] as string);
    return raw;
  }
  return parse.hostPort(raw);
}

/** MEZITE_TRUSTED_PROXIES: addresses and CIDR ranges, each checked. */
function trustedProxyList(raw: string): string[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  new TrustedProxies(entries); // throws naming a bad entry
  return entries;
}

function copyLockScope(raw: string): 'instance' | 'bot' {
  if (raw !== 'instance' && raw !== 'bot') throw new Error(`expected instance or bot, got "${raw}"`);
  return raw;
}

function nonNegativeInt(raw: string): number {
  const n = parse.int(raw);
  if (n < 0) throw new Error(`expected a whole number ≥ 0, got "${raw}"`);
  return n;
}

function auditKeyId(raw: string): string {
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(raw)) throw new Error(`expected 1 to 32 letters, digits, '.', '_' or '-', got "${raw}"`);
  return raw;
}

function positiveInt(raw: string): number {
  const n = parse.int(raw);
  if (n < 1) throw new Error(`expected a whole number ≥ 1, got "${raw}"`);
  return n;
}

const dataDir = () => process.env.MEZITE_DATA_DIR ?? '.mezite';

/** auth-server configuration: flags, then MEZITE_* environment, then file. */
export function configSchema() {
  return {
    ...commonConfigSchema('auth-server', '127.0.0.1:3025'),
    ...retentionConfigSchema(),
    httpAddr: field('MEZITE_HTTP_ADDR', parse.hostPort, '127.0.0.1:8080'),
    publicAddr: field('MEZITE_PUBLIC_ADDR', parse.string, '', 'the gRPC address clients dial (default localhost:<port>)'),
    tokenServiceTarget: field('MEZITE_TOKEN_SERVICE_TARGET', grpcTarget, '127.0.0.1:3026', 'host:port, or ipv4:a:p,b:p / dns:///name:port to balance over replicas'),
    sshCaTarget: field('MEZITE_SSH_CA_TARGET', grpcTarget, '127.0.0.1:3027', 'host:port, or ipv4:a:p,b:p / dns:///name:port to balance over replicas'),
    sessionPepper: field('MEZITE_SESSION_PEPPER', parse.key32, undefined, '32 random bytes, base64: keys the stored hashes of session secrets'),
    auditKey: field('MEZITE_AUDIT_KEY', parse.key32, undefined, '32 random bytes, base64: keys the audit chain (HMAC-SHA256); kept outside the database'),
    auditKeyId: field('MEZITE_AUDIT_KEY_ID', auditKeyId, '1', 'the id stored with each audit record keyed with MEZITE_AUDIT_KEY (change it with the key)'),
    auditSigningKey: field('MEZITE_AUDIT_SIGNING_KEY', parse.key32, undefined, '32 random bytes, base64: the Ed25519 seed that signs audit checkpoints; kept outside the database'),
    auditCheckpointIntervalMs: field('MEZITE_AUDIT_CHECKPOINT_INTERVAL', parse.duration, 3600_000, 'how often each replica signs a checkpoint of the audit chain head, e.g. 1h'),
    previousSessionPeppers: field('MEZITE_SESSION_PEPPER_PREVIOUS', parse.key32List, [] as Buffer[], 'earlier values of MEZITE_SESSION_PEPPER, comma-separated: sessions and join tokens hashed under them still verify (sessions are re-hashed at use)'),
    adminIdentityFile: field('MEZITE_ADMIN_IDENTITY_FILE', parse.string, join(dataDir(), 'admin-identity.json')),
    demoFixtures: field('MEZITE_DEMO_FIXTURES', parse.bool, false, "seed 000's demo tenant svc-demo and client svc-deployer with a published secret; loopback listeners only unless MEZITE_DEMO_FIXTURES_ON_NETWORK"),
    demoFixturesOnNetwork: field('MEZITE_DEMO_FIXTURES_ON_NETWORK', parse.bool, false, 'allow the demo fixtures while the gRPC or HTTP listener is not on loopback (a development cluster behind port-forward); never in production'),
    bootstrapAdmin: field('MEZITE_BOOTSTRAP_ADMIN', parse.bool, true, 'keep one bootstrap admin session and write its identity file; false revokes it at start (once people sign in with mezctl login)'),
    bootstrapSessionTtlMs: field('MEZITE_BOOTSTRAP_SESSION_TTL', parse.duration, 30 * 24 * 3600_000, 'how long a bootstrap admin session lives, e.g. 24h; a start after it expired mints the next'),
    authFailureLimit: field('MEZITE_AUTH_FAILURE_LIMIT', positiveInt, 10, 'failed client authentications per (client id, source address) and per source address per minute, over every replica when REDIS_URL is set (bearer credentials: 3 times as many per source)'),
    authFailureAlert: field('MEZITE_AUTH_FAILURE_ALERT', positiveInt, 50, 'failed client authentications of one client id per minute, over every source, that raise the spike alert (log, metric, audit record; never a refusal)'),
    redisUrl: field('REDIS_URL', parse.url, '', 'Redis shared by the replicas for failed-authentication limits; empty: limits per replica'),
    redisKeyPrefix: field('MEZITE_REDIS_KEY_PREFIX', parse.string, 'auth:', "prefix of the auth-server's Redis keys; deployments sharing one Redis need different ones"),
    trustedProxies: field('MEZITE_TRUSTED_PROXIES', trustedProxyList, [] as string[], 'comma-separated addresses or CIDR ranges of proxies (the Ingress controller) whose X-Forwarded-For names the OAuth2 client; default none'),
    maxInFlight: field('MEZITE_MAX_IN_FLIGHT', nonNegativeInt, 256, 'calls the public gRPC port and the OAuth2 HTTP endpoints each handle at once per replica; beyond, RESOURCE_EXHAUSTED with retry-after-ms (gRPC) or 503 with Retry-After (HTTP) (0: no limit)'),
    shedRetryAfterMs: field('MEZITE_SHED_RETRY_AFTER', parse.duration, 1000, 'the retry hint sent with a shed call, e.g. 1s'),
    issuer: field('MEZITE_ISSUER', parse.string, '', 'the public HTTP base URL (OAuth2 issuer); default the HTTP listen address'),
    tenants: field('MEZITE_TENANTS', parseTenants, [] as TenantConfig[]),
    oidcIssuer: field('MEZITE_OIDC_ISSUER', parseIssuer, '', "the human identity provider's OpenID issuer; empty: human sign-in is off"),
    oidcClientId: field('MEZITE_OIDC_CLIENT_ID', parse.string, 'mezctl', 'the public client mezctl login uses at that provider'),
    oidcAdmins: field('MEZITE_OIDC_ADMINS', parse.list, [] as string[], 'comma-separated subjects or verified emails that get the admin role'),
    botMaxCertTtlMs: field('MEZITE_BOT_MAX_CERT_TTL', parse.duration, 3600_000, "the longest a bot certificate lives unless the bot says otherwise (bots add --max-ttl); always under its roles' max_session_ttl"),
    copyLockScope: field('MEZITE_COPY_LOCK', copyLockScope, 'instance' as 'instance' | 'bot', 'what a detected copy of a bot credential locks: instance (the copied lineage) or bot (every instance)'),
  };
}

export type AuthServerConfig = ReturnType<typeof loadAuthServerConfig>;

/** Loads and validates the configuration once, at start-up. */
export function loadAuthServerConfig(env: NodeJS.ProcessEnv = process.env) {
  const cfg = loadConfig(configSchema(), { env, ...(env.MEZITE_CONFIG ? { file: env.MEZITE_CONFIG } : {}) });
  // The demo client's secret is printed in seed 000: anyone who can reach a listener
  // could mint its tokens. Off the loopback interface only with an explicit second flag.
  const exposed = [cfg.addr, cfg.httpAddr].filter((a) => !isLoopbackHost(a.replace(/:\d+$/, '')));
  if (cfg.demoFixtures && exposed.length > 0 && !cfg.demoFixturesOnNetwork) {
    throw invalidArgument(`invalid configuration: MEZITE_DEMO_FIXTURES: the demo fixtures publish a client secret and ${exposed.join(', ')} is not a loopback address; listen on 127.0.0.1, turn the fixtures off, or set MEZITE_DEMO_FIXTURES_ON_NETWORK=true for a development cluster`);
  }
  return { ...cfg, sessionPeppers: keyRing(cfg.sessionPepper, cfg.previousSessionPeppers) };
}
