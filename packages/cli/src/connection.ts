import { readFileSync } from 'node:fs';
import { invalidArgument, isLoopbackHost, unauthenticated, unavailable } from '@mezite/identity';
import { createMeziteClients, publicChannelCredentials, spkiPin } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { Metadata } from 'nice-grpc';
import { findIdentityFile, readIdentityFile, type IdentityFile } from './identity-file';
import { isLive, readSessionFile } from './session-file';

/** Global options every command accepts. */
export interface GlobalOptions {
  authServer?: string | undefined;
  identityFile?: string | undefined;
  tokenFile?: string | undefined;
}

/** Where and as whom a command talks to the auth server. */
export interface Target {
  /** gRPC `host:port`. */
  address: string;
  /** PEM of the CA the auth server's certificate must chain to. */
  caCertPem: string;
  /** Bearer credential, when the command runs as someone. */
  token?: string;
}

interface Discovery {
  auth_server: string;
  ca_cert: string;
}

/** How far a discovery document can be believed. */
export interface DiscoveryTrust {
  /** `sha256:<hex>` SPKI pin of the auth server's CA (`ca_pin`), from a trusted channel. */
  caPin?: string | undefined;
  /** CAs already trusted (a saved session or identity file): a document naming one of them needs no pin. */
  known?: string[];
  /** For tests: the fetch to use. */
  fetch?: typeof fetch;
}

/**
 * Fetches the discovery document an auth server publishes on its HTTP port. Its CA
 * decides who receives the bearer credential and secrets that follow, so it is believed
 * only over https, over http on a loopback host (nothing crosses a network), when it
 * matches `caPin`, or when it is a CA this client already trusts; anything else is
 * refused before a credential is sent.
 */
export async function discover(httpUrl: string, trust: DiscoveryTrust = {}): Promise<Discovery> {
  let url: URL;
  try {
    url = new URL('/.well-known/mezite', httpUrl);
  } catch {
    throw invalidArgument(`invalid URL "${httpUrl}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidArgument(`invalid URL "${httpUrl}": expected http:// or https://`);
  const pin = trust.caPin?.trim().toLowerCase();
  if (pin !== undefined && !/^sha256:[0-9a-f]{64}$/.test(pin)) throw invalidArgument('MEZITE_CA_PIN: expected sha256: and 64 hex digits (ca_pin in /.well-known/mezite)');
  const cleartext = url.protocol === 'http:' && !isLoopbackHost(url.hostname);
  if (cleartext && pin === undefined && !trust.known?.length) throw insecure(url);
  let res: Response;
  try {
    res = await (trust.fetch ?? fetch)(url, { signal: AbortSignal.timeout(5000), redirect: 'error' });
  } catch (err) {
    throw unavailable(`cannot reach ${url.origin}: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`, { cause: err });
  }
  if (!res.ok) throw unavailable(`${url.origin} answered ${res.status} for ${url.pathname}; is it a Mezite auth server?`);
  let doc: Partial<Discovery>;
  try {
    doc = (await res.json()) as Partial<Discovery>;
  } catch {
    throw unavailable(`${url} is not a Mezite discovery document`);
  }
  if (typeof doc.auth_server !== 'string' || typeof doc.ca_cert !== 'string') throw unavailable(`${url} is not a Mezite discovery document`);
  let got: string;
  try {
    got = spkiPin(doc.ca_cert);
  } catch {
    throw unavailable(`${url} is not a Mezite discovery document: ca_cert is not a certificate`);
  }
  if (pin !== undefined) {
    if (got !== pin) throw unauthenticated(`the CA ${url.origin} names does not match MEZITE_CA_PIN (got ${got}); nothing was sent to it`);
  } else if (cleartext && !(trust.known ?? []).some((c) => c.trim() === doc.ca_cert!.trim())) {
    throw insecure(url);
  }
  return { auth_server: doc.auth_server, ca_cert: doc.ca_cert };
}

function insecure(url: URL) {
  return unauthenticated(
    `${url.origin} is plain http on a network: anyone on the path could hand out their own CA and receive your credentials. Use its https:// address, or set MEZITE_CA_PIN to the auth server's ca_pin (sha256:…, from its operator); nothing was sent`,
  );
}

/** How a command wants its target resolved. */
export interface TargetOptions {
  /**
   * No credential at all: the call carries its own (`identity-tokens issue-service`
   * presents a client id and secret). `--token-file` is not read and the identity
   * file, if any, only supplies the address and CA — its token is never sent.
   */
  anonymous?: boolean;
}

/**
 * Resolves the target, in order: `--auth-server` / `MEZITE_AUTH_SERVER`; the HTTP
 * URL in `PLEXSPHERE_URL` / `MEZITE_URL` (its discovery document names the gRPC
 * address and CA, believed as `discover` says; `MEZITE_CA_PIN` pins it); the identity file (`--identity-file`, `MEZITE_IDENTITY`, or the
 * stack's data dir). The credential is `--token-file` if given, else the identity's;
 * none when `anonymous`. Without `--token-file` or a named identity, a live session of
 * `mezctl login` comes before the stack's admin identity, for its own server only.
 */
export async function resolveTarget(opts: GlobalOptions, env: NodeJS.ProcessEnv, repoRoot?: string, how: TargetOptions = {}): Promise<Target> {
  const explicitIdentity = opts.identityFile || env.MEZITE_IDENTITY;
  const identityPath = explicitIdentity || findIdentityFile(env, repoRoot);
  const identity: IdentityFile | undefined = identityPath ? readIdentityFile(identityPath) : undefined;
  const saved = !explicitIdentity && !opts.tokenFile ? readSessionFile(env) : undefined;
  const session = saved && isLive(saved, new Date()) ? saved : undefined;
  const httpUrl = env.PLEXSPHERE_URL || env.MEZITE_URL;
  const known = [saved?.ca_cert, identity?.ca_cert].filter((c): c is string => typeof c === 'string');
  const discovered = httpUrl ? await discover(httpUrl, { caPin: env.MEZITE_CA_PIN, known }) : undefined;

  const address = opts.authServer || env.MEZITE_AUTH_SERVER || discovered?.auth_server || session?.auth_server || identity?.auth_server;
  if (!address) {
    throw invalidArgument('no auth server: pass --auth-server, set PLEXSPHERE_URL to its HTTP address, or run where the stack writes its admin identity (./.mezite)');
  }
  // A found (not named) identity is used only for the server it belongs to, so the
  // admin credential is never sent to another server.
  const useSession = session?.auth_server === address ? session : undefined;
  const useIdentity = !useSession && identity && (explicitIdentity || identity.auth_server === address) ? identity : undefined;
  const caCertPem = useSession?.ca_cert ?? useIdentity?.ca_cert ?? discovered?.ca_cert;
  if (!caCertPem) throw invalidArgument(`no CA to verify ${address}: pass --identity-file or set PLEXSPHERE_URL to the auth server's HTTP address`);

  if (how.anonymous) return { address, caCertPem };
  let token = useSession?.token ?? useIdentity?.token;
  if (opts.tokenFile) {
    try {
      token = readFileSync(opts.tokenFile, 'utf8').trim();
    } catch (err) {
      throw invalidArgument(`cannot read --token-file ${opts.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: err });
    }
    if (!token) throw invalidArgument(`--token-file ${opts.tokenFile} is empty`);
  }
  return { address, caCertPem, ...(token ? { token } : {}) };
}

/** Typed clients of the auth server's public API, authenticated as the target's credential. */
export function connect(target: Target) {
  const clients = createMeziteClients({ address: target.address, credentials: publicChannelCredentials(target.caCertPem), peerName: `auth server ${target.address}`, defaultDeadlineMs: 15_000 });
  const metadata = () => {
    const m = Metadata();
    if (target.token) m.set('authorization', `Bearer ${target.token}`);
    return { metadata: m };
  };
  return {
    bots: clients.create(authv1.BotServiceDefinition),
    roles: clients.create(authv1.RoleServiceDefinition),
    joinTokens: clients.create(authv1.JoinTokenServiceDefinition),
    cas: clients.create(authv1.CertAuthorityServiceDefinition),
    nodes: clients.create(authv1.NodeServiceDefinition),
    join: clients.create(authv1.JoinServiceDefinition),
    audit: clients.create(authv1.AuditServiceDefinition),
    identity: clients.create(authv1.IdentityServiceDefinition),
    tokens: clients.create(authv1.IdentityTokenServiceDefinition),
    serviceIdentities: clients.create(authv1.ServiceIdentityServiceDefinition),
    sessions: clients.create(authv1.SessionServiceDefinition),
    /** Call options carrying the credential. */
    auth: metadata,
    close: clients.close,
  };
}
export type Clients = ReturnType<typeof connect>;
