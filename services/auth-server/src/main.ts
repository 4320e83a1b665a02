import '@mezite/platform/instrument'; // first: hooks pg and ioredis for tracing before anything loads them (only when OTEL_* turn tracing on)
import { join } from 'node:path';
import { formatIdentityRef, systemClock, unauthenticated, type Principal } from '@mezite/identity';
import {
  createGrpcServer,
  createLogger,
  createMeziteClient,
  createMeziteClients,
  loadSheddingMiddleware,
  RedisCache,
  newRequestId,
  internalChannelCredentials,
  onShutdown,
  pgAdvisoryLock,
  pgLockKey,
  RetentionJob,
  publicServerCredentials,
  readTlsFiles,
  runMigrations,
  spkiPin,
  startOpsEndpoints,
  startTracing,
} from '@mezite/platform';
import { authv1, sshcav1, tokenv1 } from '@mezite/proto';
import { bootstrap } from './bootstrap';
import { loadAuthServerConfig } from './config';
import { BotManager } from './domain/bot-manager';
import { BuiltinMachineIdp } from './domain/builtin-machine-idp';
import { FailureLimiter, sourceAddress } from './domain/failure-limiter';
import { FailureSpikeAlarm } from './domain/failure-spike-alarm';
import { IdentityTokenManager } from './domain/identity-token-manager';
import { JoinManager } from './domain/join-manager';
import { CertAuthenticator } from './domain/cert-authenticator';
import { RefusalAuditor } from './domain/refusal-auditor';
import { NodeJoinManager } from './domain/node-join-manager';
import { NodeManager } from './domain/node-manager';
import { RevocationList } from './domain/revocation';
import { nodeHandlers } from './grpc/node-handlers';
import { PrismaNodeStore } from './store/prisma-node-store';
import { PrismaRevocationStore } from './store/prisma-revocation-store';
import type { MachineIdentityProvider } from './domain/machine-idp';
import { OAuth2MachineIdp } from './domain/oauth2-machine-idp';
import { ServiceIdentityManager } from './domain/service-identity-manager';
import { RoleManager } from './domain/role-manager';
import { SessionManager } from './domain/session-manager';
import { OidcIdTokenVerifier } from './domain/id-token-verifier';
import { LoginManager } from './domain/login-manager';
import { sessionHandlers } from './grpc/session-handlers';
import { authMiddleware } from './grpc/auth-middleware';
import { GrpcApiTokenClient } from './grpc/api-token-client';
import { presenterOf } from './domain/api-token-client';
import { auditHandlers } from './grpc/audit-handlers';
import { identityTokenHandlers } from './grpc/identity-token-handlers';
import { serviceIdentityHandlers } from './grpc/service-identity-handlers';
import { botHandlers } from './grpc/bot-handlers';
import { caHandlers } from './grpc/ca-handlers';
import { clusterTenantId } from './domain/authz';
import { joinHandlers } from './grpc/join-handlers';
import { joinTokenHandlers } from './grpc/join-token-handlers';
import { IdTokenVerifier, joinMethods } from './domain/join-methods';
import { JoinResourceManager } from './domain/join-resource-manager';
import { PrismaJoinResourceStore } from './store/prisma-join-resource-store';
import { roleHandlers } from './grpc/role-handlers';
import { GrpcCertAuthorityClient } from './grpc/ssh-ca-client';
import { identityHandlers } from './grpc/identity-handlers';
import { BotCertificates } from './domain/bot-certificates';
import { JoinTokens } from './domain/join-token';
import { PrismaBotInstanceStore } from './store/prisma-bot-instance-store';
import { PrismaJoinTokenStore } from './store/prisma-join-token-store';
import { splitHostPort, startHttpServer } from './http/http-server';
import { REPORTS_PER_SOURCE_PER_MINUTE } from './http/secret-scanning';
import { PrismaAuditLog } from './store/prisma-audit-log';
import { PrismaAuditCheckpointStore } from './store/prisma-audit-checkpoint-store';
import { AuditCheckpoints, CheckpointSigner } from './domain/audit-checkpoint';
import { PrismaBotStore } from './store/prisma-bot-store';
import { PrismaRenewalChallengeStore } from './store/prisma-renewal-challenge-store';
import { PrismaRoleStore } from './store/prisma-role-store';
import { PrismaServiceIdentityStore } from './store/prisma-service-identity-store';
import { CachedServiceIdentityStore } from './store/cached-service-identity-store';
import { keptFor } from './domain/kept-for';
import { PrismaSessionStore } from './store/prisma-session-store';
import { PrismaTenantStore } from './store/prisma-tenant-store';
import { createPrismaClient, pgPoolOf } from './store/prisma';
import { authRetentionTasks } from './store/retention-tasks';
import { TrustedProxies } from './http/trusted-proxies';

const SERVICE = 'auth-server';

/** Wires the auth-server: the public gRPC port (TLS), the HTTP port, and clients of the internal services (mTLS). */
export async function main(): Promise<void> {
  const log = createLogger({ service: SERVICE });
  const tracing = startTracing({ service: SERVICE, log });
  const cfg = loadAuthServerConfig();
  await runMigrations({ databaseUrl: cfg.databaseUrl, schema: 'auth', dir: join(__dirname, '..', 'migrations'), log: (m) => log.info(m) });
  const prisma = createPrismaClient(cfg.databaseUrl, cfg.dbPoolSize);
  const tls = readTlsFiles({ ca: cfg.tlsCa, cert: cfg.tlsCert, key: cfg.tlsKey });
  const internal = internalChannelCredentials(tls);
  // A target naming replicas (ipv4:a,b / dns:///name) is balanced round robin. One address
  // keeps grpc-js's pick-first, which reconnects on demand the moment a restarted peer is
  // back (round robin reconnects on its backoff, up to 2 s).
  const balanced = (target: string) => /^(ipv4|ipv6|dns):/.test(target);
  const tokenChannel = createMeziteClients({ address: cfg.tokenServiceTarget, credentials: internal, peerName: 'token-service', defaultDeadlineMs: 5000, roundRobin: balanced(cfg.tokenServiceTarget), channelOptions: { 'grpc.ssl_target_name_override': 'token-service' } });
  const apiTokens = new GrpcApiTokenClient(tokenChannel.create(tokenv1.ApiTokenServiceDefinition));

  const sshCa = createMeziteClient(sshcav1.SshCaServiceDefinition, { address: cfg.sshCaTarget, credentials: internal, peerName: 'ssh-ca', defaultDeadlineMs: 5000, roundRobin: balanced(cfg.sshCaTarget), channelOptions: { 'grpc.ssl_target_name_override': 'ssh-ca' } });

  const clock = systemClock;
  const audit = new PrismaAuditLog(prisma, { current: { id: cfg.auditKeyId, secret: cfg.auditKey } });
  const checkpoints = new AuditCheckpoints({ store: new PrismaAuditCheckpointStore(prisma), signer: new CheckpointSigner(cfg.auditSigningKey), clock });
  const ca = new GrpcCertAuthorityClient(sshCa.client);
  const joinTokenStore = new PrismaJoinTokenStore(prisma);
  const joinTokens = new JoinTokens({ store: joinTokenStore, clock, peppers: cfg.sessionPeppers });
  const instanceStore = new PrismaBotInstanceStore(prisma);
  const sessionStore = new PrismaSessionStore(prisma);
  const sessions = new SessionManager({ store: sessionStore, clock, peppers: cfg.sessionPeppers, logger: log });
  log.info('session peppers', { current: cfg.sessionPeppers.current.id, previous: cfg.sessionPeppers.previous.map((k) => k.id) });
  // Sessions hashed before peppers had ids: with one pepper, it is theirs (docs/DECISIONS.md).
  if (cfg.sessionPeppers.previous.length === 0) await sessionStore.stampPepper(cfg.sessionPeppers.current.id);
  const botStore = new PrismaBotStore(prisma);
  const roles = new RoleManager({ store: new PrismaRoleStore(prisma), bots: botStore, clock });
  const revocationStore = new PrismaRevocationStore(prisma);
  const revocations = new RevocationList({ store: revocationStore, bots: botStore, ca, clock });
  const bots = new BotManager({ store: botStore, instances: instanceStore, joinTokens, clock, roles, revocations });
  const tenantStore = new PrismaTenantStore(prisma);
  const serviceStore = new CachedServiceIdentityStore({ store: new PrismaServiceIdentityStore(prisma), clock });
  const services = new ServiceIdentityManager({ store: serviceStore, secrets: apiTokens, clock });
  const builtinIdp = new BuiltinMachineIdp(apiTokens);
  // Read on every grant; tenants' providers come from configuration (kept 10 s).
  const machineIdp = keptFor(10_000, clock, async (tenantId: string): Promise<MachineIdentityProvider> => {
    const t = await tenantStore.getTenantById(tenantId);
    return t?.machineIdp.kind === 'oauth2' ? new OAuth2MachineIdp({ tokenEndpoint: t.machineIdp.tokenEndpoint, ...(t.machineIdp.scope ? { scope: t.machineIdp.scope } : {}) }) : builtinIdp;
  });
  // Failed authentications are counted in Redis when REDIS_URL is set (every replica
  // shares the limits; while Redis is unreachable each replica keeps its own), else per
  // replica. 10 failed client authentications per (client id, source) and per source a minute.
  const shared = cfg.redisUrl ? new RedisCache({ url: cfg.redisUrl, keyPrefix: cfg.redisKeyPrefix, logger: log }) : undefined;
  log.info('failure limits', { shared: shared ? 'redis' : 'per replica' });
  const limiterShared = shared ? { shared, log } : { log };
  const limiter = new FailureLimiter({ clock, maxFailures: cfg.authFailureLimit, windowMs: 60_000, name: 'client-auth', ...limiterShared });
  const alarm = new FailureSpikeAlarm({ clock, audit, log, threshold: cfg.authFailureAlert, ...(shared ? { shared } : {}) });
  // Refused credentials (bearers, certificates, RenewBot, join tokens, rate-limited client
  // credentials) are audited with their reason, at most the bearer limiter's limit per
  // source and 1000 per minute per replica.
  const refusals = new RefusalAuditor({ audit, clock, log, perSource: cfg.authFailureLimit * 3 });
  // Refused bearers, bot certificates and host certificates count against their source.
  const bearerLimiter = new FailureLimiter({ clock, maxFailures: cfg.authFailureLimit * 3, windowMs: 60_000, name: 'bearer', ...limiterShared });
  const identityTokens = new IdentityTokenManager({ tokens: apiTokens, services: serviceStore, machineIdp, audit, limiter, alarm, refusals });
  // Human sign-in (mezctl login): off without MEZITE_OIDC_ISSUER.
  const humanIdp = cfg.oidcIssuer ? { issuer: cfg.oidcIssuer, clientId: cfg.oidcClientId, admins: cfg.oidcAdmins, verifier: new OidcIdTokenVerifier({ issuer: cfg.oidcIssuer, clientId: cfg.oidcClientId, clock }) } : undefined;
  const logins = new LoginManager({ idp: humanIdp, tenants: tenantStore, sessions, audit, clock, limiter, refusals });
  const tenantDomain = async (id: string) => (await tenantStore.getTenantById(id))?.domain ?? id;
  const challenges = new PrismaRenewalChallengeStore(prisma);
  const certs = new BotCertificates({ roles, ca, clock, maxCertTtlMs: cfg.botMaxCertTtlMs });
  const tokenHash = (plaintext: string) => joinTokens.storedHash(plaintext);
  const joinResourceStore = new PrismaJoinResourceStore(prisma);
  const methods = joinMethods({ verifier: new IdTokenVerifier(), secretHash: tokenHash });
  const joinResources = new JoinResourceManager({ store: joinResourceStore, bots: botStore, methods, clock });
  const joins = new JoinManager({ bots: botStore, instances: instanceStore, tokens: joinTokenStore, tokenHash, certs, audit, clock, revocations, refusals, copyLockScope: cfg.copyLockScope, resources: joinResourceStore, methods, tenants: tenantStore });
  const nodeStore = new PrismaNodeStore(prisma);
  const nodes = new NodeManager({ store: nodeStore, bots: botStore, roles, joinTokens, revocations, audit, clock, log });
  const nodeJoins = new NodeJoinManager({ nodes: nodeStore, tokens: joinTokenStore, tokenHash, ca, challenges, audit, clock, refusals, failures: bearerLimiter });
  const certAuth = new CertAuthenticator({ ca, bots: botStore, instances: instanceStore, clock, revocations });

  const grpc = createGrpcServer({ name: 'mezite.auth.v1', logger: log });
  // Bearer credentials: API tokens (`psk_…`, verified by token-service) or sessions.
  const authenticate = async (secret: string, source: string, userAgent: string | undefined): Promise<Principal> => {
    if (!secret.startsWith('psk_')) return sessions.authenticate(secret);
    const t = await apiTokens.verify(secret, undefined, presenterOf(source, userAgent));
    return { kind: t.identityKind, id: t.identityId, tenantId: t.tenantId, name: `${t.identityKind}:${t.identityId}`, authMethod: 'api-token', roles: [], apiTokenId: t.id };
  };
  // Bad bearer credentials count against the source address, like bad client secrets,
  // and each refusal is audited with its reason while the source is under the limit.
  const authenticateFrom = (secret: string, peer: string | undefined, requestId: string, userAgent?: string): Promise<Principal> => {
    const apiToken = secret.startsWith('psk_');
    const event = { type: 'auth.authenticate', requestId, source: sourceAddress(peer), credential: apiToken ? 'api token' : 'session', target: apiToken ? 'token:?' : 'session:?', fallbackReason: apiToken ? 'refused api token' : 'unknown, expired or revoked session' };
    return refusals.guard(bearerLimiter, event, () => authenticate(secret, event.source, userAgent));
  };
  // A bot's certificate (msh): failures count against the source like bad bearers.
  const certificateFrom = (credential: string, peer: string | undefined, requestId: string): Promise<Principal> => {
    const event = { type: 'auth.authenticate', requestId, source: sourceAddress(peer), credential: 'bot certificate', target: 'bot:?', fallbackReason: 'refused certificate credential' };
    return refusals.guard(bearerLimiter, event, () => certAuth.authenticate(credential));
  };
  // Load shedding first: a call over the in-flight cap costs no authentication or database work.
  // A quarter of the cap is kept for renewals (a bot's renewal keeps a live credential
  // alive; joins and admin calls can wait) and for the second step of node renewals, so
  // a begun node renewal is not thrown away when the replica is full.
  const finishing = new Set(['/mezite.auth.v1.JoinService/RenewBot', '/mezite.auth.v1.JoinService/CompleteNodeRenewal']);
  const shedding = loadSheddingMiddleware({ maxInFlight: cfg.maxInFlight, retryAfterMs: cfg.shedRetryAfterMs, finishing: { methods: finishing, reserved: Math.floor(cfg.maxInFlight / 4) } });
  const authed = grpc.services.with(shedding).with(authMiddleware(authenticateFrom, certificateFrom));
  authed.add(authv1.BotServiceDefinition, botHandlers(bots, audit));
  authed.add(authv1.RoleServiceDefinition, roleHandlers(roles, audit));
  authed.add(authv1.JoinServiceDefinition, joinHandlers(joins, nodeJoins));
  authed.add(authv1.JoinTokenServiceDefinition, joinTokenHandlers(joinResources, audit, tenantDomain));
  authed.add(authv1.NodeServiceDefinition, nodeHandlers(nodes));
  authed.add(authv1.CertAuthorityServiceDefinition, caHandlers(ca, audit, revocations, clusterTenantId(tenantStore)));
  authed.add(authv1.AuditServiceDefinition, auditHandlers(audit, checkpoints));
  authed.add(authv1.IdentityServiceDefinition, identityHandlers());
  authed.add(authv1.IdentityTokenServiceDefinition, identityTokenHandlers(identityTokens));
  authed.add(authv1.ServiceIdentityServiceDefinition, serviceIdentityHandlers(services, audit, tenantDomain));
  authed.add(authv1.SessionServiceDefinition, sessionHandlers(logins, sessions, audit));
  const port = await grpc.listen(cfg.addr, publicServerCredentials(tls), { deferServing: true });
  const publicAddr = cfg.publicAddr || `localhost:${port}`;
  const ops = await startOpsEndpoints({ grpc, healthAddr: cfg.healthAddr, metricsAddr: cfg.metricsAddr, log });

  let healthy = true;
  let issuer = cfg.issuer;
  const http = await startHttpServer({
    addr: cfg.httpAddr,
    log,
    healthy: () => healthy,
    // The OAuth2 endpoints are shed like the gRPC port (their own count, the same cap).
    loadShedding: { maxInFlight: cfg.maxInFlight, retryAfterMs: cfg.shedRetryAfterMs },
    trustedProxies: new TrustedProxies(cfg.trustedProxies),
    // Anyone who finds a leaked psk_ token may revoke it (secret-scanning partner shape).
    secretScanning: { apiTokens, audit, refusals, log, reports: new FailureLimiter({ clock, maxFailures: REPORTS_PER_SOURCE_PER_MINUTE, windowMs: 60_000, name: 'secret-scanning', ...limiterShared }) },
    discovery: () => ({ auth_server: publicAddr, ca_cert: tls.caCertPem, ca_pin: spkiPin(tls.caCertPem) }),
    oauth2: {
      tokens: identityTokens,
      apiTokens,
      services: serviceStore,
      log,
      issuer: () => issuer,
      newRequestId,
      // Only admin sessions may introspect (any tenant's tokens: the introspection answer
      // names the tenant); bad bearers count against the source like on the gRPC API.
      canIntrospect: async (bearer, source, requestId, userAgent) => {
        const p = await authenticateFrom(bearer, source, requestId, userAgent);
        return { actor: formatIdentityRef(p), tenantId: p.tenantId, allowed: p.roles.includes('admin') };
      },
      audit,
      refusals,
      verifyClient: async (clientId, secret, requestId) => {
        const svc = await serviceStore.getByClientId(clientId);
        if (!svc) throw unauthenticated('invalid client credentials');
        await (await machineIdp(svc.tenantId)).verify(clientId, secret, requestId);
      },
      limiter,
    },
  });
  const [httpHost] = splitHostPort(cfg.httpAddr);
  const httpUrl = `http://${httpHost === '0.0.0.0' || httpHost === '::' ? 'localhost' : httpHost}:${http.port}`;
  issuer = cfg.issuer || httpUrl;

  await bootstrap({
    tenants: tenantStore,
    services,
    serviceStore,
    tenantsConfig: cfg.tenants,
    sessions,
    clock,
    log,
    demoFixtures: cfg.demoFixtures,
    adminIdentityFile: cfg.adminIdentityFile,
    publicAddr,
    httpUrl,
    caCertPem: tls.caCertPem,
    audit,
    bootstrapAdmin: cfg.bootstrapAdmin,
    bootstrapSessionTtlMs: cfg.bootstrapSessionTtlMs,
  });
  // Expired challenges, sessions, join tokens, revocations and old lineage steps are
  // deleted once they ended MEZITE_RETENTION_MAX_AGE ago, one replica at a time.
  const retention = cfg.retentionMaxAgeMs > 0
    ? new RetentionJob({ tasks: authRetentionTasks({ challenges, sessions: sessionStore, joinTokens: joinTokenStore, idTokenUses: joinResourceStore, revocations: revocationStore, instances: instanceStore }), lock: pgAdvisoryLock(pgPoolOf(prisma), pgLockKey('mezite auth-server retention')), clock, log, maxAgeMs: cfg.retentionMaxAgeMs }).start(cfg.retentionIntervalMs)
    : undefined;
  if (!retention) log.warn('retention is off (MEZITE_RETENTION_MAX_AGE=off): expired rows are never deleted');
  // Each replica signs a checkpoint of the chain head periodically (one per head seq is kept).
  const checkpointTimer = setInterval(() => {
    checkpoints.checkpoint().catch((err: unknown) => log.warn('audit checkpoint failed', { error: (err as Error).message }));
  }, cfg.auditCheckpointIntervalMs);
  checkpointTimer.unref();
  grpc.serving();
  log.info('listening', { grpc: cfg.addr.replace(/:\d+$/, `:${port}`), http: httpUrl, public_addr: publicAddr });

  apiTokens.startUsageReports();
  onShutdown(log, async () => {
    healthy = false;
    await retention?.stop();
    clearInterval(checkpointTimer);
    await grpc.shutdown();
    await apiTokens.stopUsageReports(); // the uses answered from leases since the last report
    await http.close();
    tokenChannel.close();
    sshCa.close();
    await shared?.close();
    await prisma.$disconnect();
    await ops.close();
    await tracing.shutdown();
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${SERVICE}: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
