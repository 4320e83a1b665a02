import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { type Clock, isMeziteError, systemClock } from '@mezite/identity';
import { createLogger, createMeziteClients, type Logger, publicChannelCredentials } from '@mezite/platform/client';
import { authv1 } from '@mezite/proto';
import { isUsable } from './bot-identity';
import { establishTrust } from './ca-trust';
import { type Destination, DESTINATION_RECORD, DestinationError } from './destination';
import { DirectoryDestination } from './directory-destination';
import { DirectoryStateStore } from './directory-state-store';
import { UsageError } from './errors';
import { audienceFor, fetchGithubIdToken, gitlabIdToken, kubernetesIdToken } from './id-token-sources';
import { GrpcIdentityIssuer } from './grpc-identity-issuer';
import { JoinKeyring } from './join-key';
import type { IdentityConfig } from './identity-config';
import { IdentityRenewer } from './identity-renewer';
import { kubernetesSecretDestination } from './kubernetes-secret-destination';
import { describeFailure, RenewalLoop } from './renewal-loop';
import { systemTimers, type Timers } from './timers';

/** The signals the daemon reacts to; `process` in production, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

/** What `identity start` needs from its process; tests pass their own. */
export interface IdentityStartIo {
  /** Log lines (one JSON object each) go here. */
  stdout: (s: string) => void;
  /** The trust-on-first-use warning goes here. */
  stderr: (s: string) => void;
  signals: SignalSource;
  clock?: Clock;
  timers?: Timers;
  /** Called with the loop once the daemon runs (tests drive it directly). */
  onLoop?: (loop: RenewalLoop) => void;
  /**
   * Environment: MEZITE_HOME for where the destination is recorded, KUBERNETES_SERVICE_*
   * and MEZITE_KUBE_* for a Kubernetes Secret; default process.env.
   */
  env?: NodeJS.ProcessEnv;
}

/**
 * `mezd identity start`: establishes trust in the auth server, then joins or renews
 * once (`--one-shot`) or keeps renewing until SIGTERM/SIGINT (SIGHUP renews now). A
 * join token that is not the one the saved identity came from is joined with (an
 * operator re-enrolling the machine), and its refusal is the run's failure.
 * Resolves to 0; failures are thrown for the caller's one-line report.
 */
export async function identityStart(config: IdentityConfig, io: IdentityStartIo): Promise<number> {
  const clock = io.clock ?? systemClock;
  const logger: Logger = createLogger({ service: 'mezd', write: (line) => io.stdout(line + '\n') }).child({ auth_server: config.authServer });
  const env = io.env ?? process.env;
  // Built first: a Secret destination outside a pod fails before any contact.
  const destination: Destination = config.kubernetesSecret ? kubernetesSecretDestination(config.kubernetesSecret, env, logger) : new DirectoryDestination(config.destination);
  const store = new DirectoryStateStore(config.dataDir);
  const state = await store.load();
  const identity = state?.identity;
  if (!(identity && isUsable(identity, clock.now())) && config.joinToken === undefined) {
    throw new UsageError(
      identity
        ? `--join-token is required: the certificate in ${store.description} expired at ${identity.validBefore.toISOString()}`
        : `--join-token is required on the first start (${store.description} holds no identity)`,
    );
  }
  const dirMode = await stat(config.dataDir).then((st) => st.mode & 0o777, () => undefined);
  if (dirMode !== undefined && (dirMode & 0o077) !== 0) {
    logger.warn('the data dir is open to other users; it holds the private key', { data_dir: config.dataDir, mode: dirMode.toString(8) });
  }
  if (identity && state.authServer !== config.authServer) {
    logger.warn('the data dir holds an identity from another auth server address', { data_dir: config.dataDir, saved_auth_server: state.authServer });
  }
  if (identity && isUsable(identity, clock.now()) && config.joinToken !== undefined && state.joinTokenHash === undefined) {
    // Written by a mezd that did not record its join token: a unit that always passes the
    // token it once joined with must keep renewing. The token is adopted with the renewal.
    logger.warn('the join token is ignored: the identity in the data dir predates join-token tracking, so it is renewed', { data_dir: config.dataDir });
  }
  const trust = await establishTrust({
    address: config.authServer,
    caPin: config.caPin,
    // Pinned only with a successful join: a state holding just a pending join key pins nothing.
    pinned: identity && state.caCertPem ? { caCertPem: state.caCertPem, from: store.description } : undefined,
    warn: io.stderr,
  });
  logger.info('auth server CA trusted', { ca_pin: trust.pin, source: trust.source });

  const clients = createMeziteClients({
    address: config.authServer,
    credentials: publicChannelCredentials(trust.caCertPem),
    peerName: `auth server ${config.authServer}`,
    defaultDeadlineMs: 15_000,
  });
  try {
    const keyring = config.joinMethod === 'bound-keypair' ? await JoinKeyring.load(config.dataDir, (msg, fields) => logger.info(msg, fields)) : undefined;
    const renewer = new IdentityRenewer({
      issuer: new GrpcIdentityIssuer(clients.create(authv1.JoinServiceDefinition), idTokenSource(config, env, clock, keyring), keyring ? () => keyring.joined() : undefined),
      store,
      destinations: [destination],
      clock,
      logger,
      authServer: config.authServer,
      caCertPem: trust.caCertPem,
      certificateTtlMs: config.certificateTtlMs,
      joinToken: config.joinToken,
      initial: identity,
      joinTokenHash: state?.joinTokenHash,
      pending: state?.pending,
      heartbeat: { renewalIntervalMs: config.renewalIntervalMs, oneShot: config.oneShot },
    });
    if (config.oneShot) {
      try {
        await renewer.refresh();
        recordDestination(config, env, logger, { authServer: config.authServer, caCertPem: trust.caCertPem });
      } catch (err) {
        const { msg, hint } = describeFailure(err, renewer.lastAction);
        logger.error(msg, {
          code: isMeziteError(err) ? err.code : 'Internal',
          reason: (err as Error).message,
          ...(hint ? { hint } : {}),
          ...(err instanceof DestinationError ? { destination: err.destination } : {}),
          ...(renewer.lastRequestId ? { request_id: renewer.lastRequestId } : {}),
        });
        throw err;
      }
      return 0;
    }
    return await runDaemon(renewer, config, io, clock, logger, trust.caCertPem);
  } finally {
    clients.close();
  }
}

async function runDaemon(renewer: IdentityRenewer, config: IdentityConfig, io: IdentityStartIo, clock: Clock, logger: Logger, caCertPem: string): Promise<number> {
  const loop = new RenewalLoop({ renewer, clock, timers: io.timers ?? systemTimers, logger, renewalIntervalMs: config.renewalIntervalMs });
  const onHup = () => void loop.renewNow();
  const onStop = (signal: NodeJS.Signals) => () => {
    logger.info('stopping', { signal });
    void loop.stop();
  };
  const onTerm = onStop('SIGTERM');
  const onInt = onStop('SIGINT');
  io.signals.on('SIGHUP', onHup);
  io.signals.on('SIGTERM', onTerm);
  io.signals.on('SIGINT', onInt);
  try {
    await renewer.restore().catch((err: unknown) => logger.warn('could not restore the destination from the data dir', { reason: (err as Error).message }));
    logger.info('started', { destination: config.destination, data_dir: config.dataDir, renewal_interval_s: config.renewalIntervalMs / 1000, certificate_ttl_s: config.certificateTtlMs / 1000 });
    recordDestination(config, io.env ?? process.env, logger, { authServer: config.authServer, caCertPem });
    io.onLoop?.(loop);
    await loop.run();
    logger.info('stopped');
    return 0;
  } finally {
    io.signals.off('SIGHUP', onHup);
    io.signals.off('SIGTERM', onTerm);
    io.signals.off('SIGINT', onInt);
  }
}

/**
 * Records, for `msh`, which auth server (with its CA, public) issued the certificate:
 * in `<destination>/mezite-auth.json`, beside the files it belongs to, so each bot's
 * destination keeps its own whichever mezd ran last; and the destination itself in
 * ~/.mezite/identity.json (MEZITE_HOME overrides), so `msh` finds the certificate
 * without --cert, as seed 002's CI example runs it. Best effort. Not for a Kubernetes
 * Secret: msh reads files, and whoever mounts the Secret knows where it is.
 */
function recordDestination(config: IdentityConfig, env: NodeJS.ProcessEnv, logger: Logger, server: { authServer: string; caCertPem: string }): void {
  if (config.kubernetesSecret) return;
  const destination = config.destination;
  const record = { auth_server: server.authServer, ca_cert: server.caCertPem };
  const writeAtomic = (dir: string, name: string, doc: unknown, mode: number) => {
    const tmp = join(dir, `${name}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode });
    renameSync(tmp, join(dir, name));
  };
  try {
    // Before the first join the directory may not exist yet: made as DirectoryDestination makes it.
    mkdirSync(destination, { recursive: true, mode: 0o700 });
    writeAtomic(destination, DESTINATION_RECORD, record, 0o644);
  } catch (err) {
    logger.warn('could not record the auth server beside the destination for msh', { destination, reason: (err as Error).message });
  }
  try {
    const dir = env.MEZITE_HOME ?? join(homedir(), '.mezite');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomic(dir, 'identity.json', { destination, ...record }, 0o600);
  } catch (err) {
    logger.warn('could not record the destination for msh', { reason: (err as Error).message });
  }
}

/** Where a delegated join's ID token comes from, fetched or read afresh for each join; none for a one-time token. */
function idTokenSource(config: IdentityConfig, env: NodeJS.ProcessEnv, clock: Clock, keyring: JoinKeyring | undefined): ((publicKey: string) => Promise<string>) | undefined {
  switch (config.joinMethod) {
    case 'bound-keypair':
      return (keyring as JoinKeyring).credential(audienceFor(config.joinToken as string, config.joinAudience), clock, config.registrationSecret);
    case 'github':
      return () => fetchGithubIdToken(env, audienceFor(config.joinToken as string, config.joinAudience));
    case 'gitlab':
      return async () => gitlabIdToken(env, config.idTokenEnv as string);
    case 'kubernetes':
      return async () => kubernetesIdToken(config.idTokenFile as string);
    default:
      return undefined;
  }
}
