import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatDuration, parseDuration } from '@mezite/identity';
import { parse as parseYaml } from 'yaml';
import { parseHostPort } from './address';
import { UsageError } from './errors';
import { KUBERNETES_SECRET_SCHEME, type KubernetesSecretRef, parseKubernetesSecretUrl } from './kubernetes-secret-destination';

/** The validated settings of `mezd identity start`. */
export interface IdentityConfig {
  authServer: string;
  /**
   * Joined with when the data dir holds no usable identity, or one obtained with another
   * token (its SHA-256 is saved with the identity); the same token again renews.
   */
  joinToken?: string;
  /** A directory (absolute), or the `kubernetes-secret://` URL as given. */
  destination: string;
  /** Set when `destination` names a Kubernetes Secret. */
  kubernetesSecret?: KubernetesSecretRef;
  /** Used by the daemon only; with `oneShot` it is not checked against the TTL. */
  renewalIntervalMs: number;
  certificateTtlMs: number;
  oneShot: boolean;
  dataDir: string;
  /** `sha256:<64 hex>`, lower-case. */
  caPin?: string;
  /** Set when the machine proves itself with its platform's ID token (`joinToken` names the resource); unset: a one-time token. */
  joinMethod?: DelegatedJoinMethod;
  /** gitlab: the environment variable holding the job's `id_tokens` JWT. */
  idTokenEnv?: string;
  /** kubernetes: the projected service-account token file (re-read for each join). */
  idTokenFile?: string;
  /** The audience to request an ID token for, when the resource names one; else the default (`audienceFor`). */
  joinAudience?: string;
  /** bound-keypair: the one-time secret traded for registering the join key (spent after the first join; harmless afterwards). */
  registrationSecret?: string;
}

/** The keys of the command line and of a `--config` file (the same names). */
export const CONFIG_KEYS = ['auth-server', 'join-token', 'join-method', 'join-audience', 'id-token-env', 'id-token-file', 'destination', 'renewal-interval', 'certificate-ttl', 'one-shot', 'data-dir', 'ca-pin', 'registration-secret'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];
type RawConfig = Partial<Record<ConfigKey, string | boolean>>;

/**
 * Keys also read from the environment. Only these three: they mean the same to every
 * Mezite tool, and the token in the environment stays out of `ps`. The others would
 * collide with the stack's own variables (`MEZITE_DATA_DIR`).
 */
export const CONFIG_ENV: Partial<Record<ConfigKey, string>> = { 'auth-server': 'MEZITE_AUTH_SERVER', 'join-token': 'MEZITE_JOIN_TOKEN', 'ca-pin': 'MEZITE_CA_PIN', 'registration-secret': 'MEZITE_REGISTRATION_SECRET' };

/** The methods whose credential is the platform's ID token. */
export const DELEGATED_JOIN_METHODS = ['github', 'gitlab', 'kubernetes', 'bound-keypair'] as const;
export type DelegatedJoinMethod = (typeof DELEGATED_JOIN_METHODS)[number];
/** Where a gitlab job puts its `id_tokens` JWT unless told otherwise (`id_tokens: MEZITE_ID_TOKEN: aud: …`). */
export const DEFAULT_ID_TOKEN_ENV = 'MEZITE_ID_TOKEN';
/** The pod's service-account token; project one with the auth server's audience there or name its path. */
export const DEFAULT_ID_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export const DEFAULT_RENEWAL_INTERVAL = '20m';
export const DEFAULT_CERTIFICATE_TTL = '1h';
/** The auth server refuses shorter certificates. */
export const MIN_CERTIFICATE_TTL_MS = 60_000;
/** Root's data dir; other users get `$XDG_STATE_HOME/mezite/identity` (default `~/.local/state/…`). */
export const ROOT_DATA_DIR = '/var/lib/mezite/identity';

/** Where the process runs, for defaults. */
export interface ConfigEnvironment {
  env: NodeJS.ProcessEnv;
  isRoot: boolean;
  home: string;
}

/** The environment of this process. */
export function processEnvironment(env: NodeJS.ProcessEnv = process.env): ConfigEnvironment {
  return { env, isRoot: process.getuid?.() === 0, home: homedir() };
}

/** The default `--data-dir` for this user. */
export function defaultDataDir(e: ConfigEnvironment): string {
  if (e.isRoot) return ROOT_DATA_DIR;
  const state = e.env.XDG_STATE_HOME && e.env.XDG_STATE_HOME.startsWith('/') ? e.env.XDG_STATE_HOME : join(e.home, '.local', 'state');
  return join(state, 'mezite', 'identity');
}

/**
 * Loads the configuration once, at start-up (STYLE.md §19): flags, then the
 * environment (MEZITE_AUTH_SERVER, MEZITE_JOIN_TOKEN, MEZITE_CA_PIN), then the
 * `--config` file (YAML or JSON, same keys as the flags). Every problem is reported at
 * once, each naming its key; unknown keys in the file are refused so a typo is never
 * silently ignored.
 */
export function loadIdentityConfig(flags: RawConfig, configFile: string | undefined, e: ConfigEnvironment): IdentityConfig {
  const file = configFile ? readConfigFile(configFile) : {};
  const problems: string[] = [];
  const raw = (key: ConfigKey): string | boolean | undefined => {
    const envName = CONFIG_ENV[key];
    const fromEnv = envName ? e.env[envName] : undefined;
    return flags[key] ?? (fromEnv === '' ? undefined : fromEnv) ?? file[key];
  };
  const text = (key: ConfigKey): string | undefined => {
    const v = raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      problems.push(`--${key} must be a string`);
      return undefined;
    }
    const t = v.trim();
    return t === '' ? undefined : t;
  };
  const duration = (key: ConfigKey, dflt: string): number | undefined => {
    try {
      return parseDuration(text(key) ?? dflt, `--${key}`);
    } catch (err) {
      problems.push((err as Error).message);
      return undefined;
    }
  };

  const authServer = text('auth-server');
  if (!authServer) problems.push('--auth-server is required: the auth server\'s gRPC address, e.g. mezite.example.com:3025');
  else {
    try {
      parseHostPort(authServer);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  // Default: <data-dir>/certs, i.e. /var/lib/mezite/identity/certs as root (the path seed 002's msh example uses).
  const destination = text('destination') ?? join(text('data-dir') ?? defaultDataDir(e), 'certs');
  let kubernetesSecret: KubernetesSecretRef | undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(destination)?.[1];
  if (scheme?.toLowerCase() === KUBERNETES_SECRET_SCHEME) {
    try {
      kubernetesSecret = parseKubernetesSecretUrl(destination);
    } catch (err) {
      problems.push((err as Error).message);
    }
  } else if (scheme !== undefined) {
    problems.push(`--destination ${destination}: unknown scheme "${scheme}"; give a directory or ${KUBERNETES_SECRET_SCHEME}://NAMESPACE/NAME`);
  }
  const renewalIntervalMs = duration('renewal-interval', DEFAULT_RENEWAL_INTERVAL);
  const certificateTtlMs = duration('certificate-ttl', DEFAULT_CERTIFICATE_TTL);
  if (certificateTtlMs !== undefined && certificateTtlMs < MIN_CERTIFICATE_TTL_MS) problems.push(`--certificate-ttl (${formatDuration(certificateTtlMs)}) must be at least 1m`);
  const oneShotRaw = raw('one-shot');
  let oneShot = false;
  if (typeof oneShotRaw === 'boolean') oneShot = oneShotRaw;
  else if (oneShotRaw !== undefined) problems.push('--one-shot must be true or false');
  // A one-shot run renews once and exits: it has no interval for the certificate to outlive.
  if (!oneShot && renewalIntervalMs !== undefined && certificateTtlMs !== undefined && renewalIntervalMs >= certificateTtlMs) {
    problems.push(`--renewal-interval (${formatDuration(renewalIntervalMs)}) must be shorter than --certificate-ttl (${formatDuration(certificateTtlMs)}), or the certificate expires before it is renewed`);
  }
  const caPin = text('ca-pin')?.toLowerCase();
  if (caPin !== undefined && !/^sha256:[0-9a-f]{64}$/.test(caPin)) problems.push('--ca-pin must be sha256: and 64 hex digits, as `mezctl` and /.well-known/mezite print it');
  const joinToken = text('join-token');
  const joinMethod = text('join-method') ?? 'token';
  const delegated = (DELEGATED_JOIN_METHODS as readonly string[]).includes(joinMethod) ? (joinMethod as DelegatedJoinMethod) : undefined;
  if (joinMethod !== 'token' && !delegated) problems.push(`--join-method must be token, ${DELEGATED_JOIN_METHODS.join(', ')}, not "${joinMethod}"`);
  if (delegated && !joinToken) problems.push(`--join-method=${delegated} needs --join-token: the name of the join-token resource (mezctl join-tokens ls)`);
  const idTokenEnv = text('id-token-env');
  const idTokenFile = text('id-token-file');
  if (idTokenEnv && delegated !== 'gitlab') problems.push('--id-token-env is for --join-method=gitlab');
  if (idTokenFile && delegated !== 'kubernetes') problems.push('--id-token-file is for --join-method=kubernetes');
  const registrationSecret = text('registration-secret');
  if (registrationSecret && delegated !== 'bound-keypair') problems.push('--registration-secret is for --join-method=bound-keypair');
  const audience = text('join-audience');
  const dataDir = resolve(text('data-dir') ?? defaultDataDir(e));

  if (problems.length > 0 || !authServer || !destination || renewalIntervalMs === undefined || certificateTtlMs === undefined) {
    throw new UsageError(problems.join('; '));
  }
  return {
    authServer,
    destination: kubernetesSecret ? destination : resolve(destination),
    ...(kubernetesSecret ? { kubernetesSecret } : {}),
    renewalIntervalMs,
    certificateTtlMs,
    oneShot,
    dataDir,
    ...(joinToken ? { joinToken } : {}),
    ...(caPin ? { caPin } : {}),
    ...(delegated ? { joinMethod: delegated } : {}),
    ...(delegated === 'gitlab' ? { idTokenEnv: idTokenEnv ?? DEFAULT_ID_TOKEN_ENV } : {}),
    ...(delegated === 'kubernetes' ? { idTokenFile: resolve(idTokenFile ?? DEFAULT_ID_TOKEN_FILE) } : {}),
    ...(audience ? { joinAudience: audience } : {}),
    ...(registrationSecret ? { registrationSecret } : {}),
  };
}

/** Reads a `--config` file: a YAML (or JSON) mapping of the flag names to values. */
function readConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--config ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true, prettyErrors: false });
  } catch (err) {
    throw new UsageError(`--config ${path}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`--config ${path}: must be a mapping of keys such as auth-server and destination`);
  const out: RawConfig = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      problems.push(`unknown key "${key}" (known: ${CONFIG_KEYS.join(', ')})`);
      continue;
    }
    if (key === 'one-shot') {
      if (typeof value !== 'boolean') problems.push('one-shot must be true or false');
      else out[key] = value;
    } else if (typeof value === 'string') out[key as ConfigKey] = value;
    else if (typeof value === 'number' && (key === 'renewal-interval' || key === 'certificate-ttl')) problems.push(`${key} needs a unit, e.g. 30m or 1h (a bare number is ambiguous)`);
    else if (value !== null) problems.push(`${key} must be a string`);
  }
  if (problems.length > 0) throw new UsageError(`--config ${path}: ${problems.join('; ')}`);
  return out;
}
