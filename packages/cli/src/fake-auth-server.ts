import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alreadyExists, failedPrecondition, FakeClock, invalidArgument, notFound, parseRoleYaml, unauthenticated, type Role } from '@mezite/identity';
import { createGrpcServer, ensureInternalPki, nullLogger, publicServerCredentials, type GrpcServer, type RequestContext } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { ServerError, Status, type CallContext, type CompatServiceDefinition, type ServiceImplementation } from 'nice-grpc';
import { botService } from './fake-bot-service';
import { FakeMachineIdentities, identityTokenService, serviceIdentityService } from './fake-machine-identities';
import { page } from './fake-page';
import { runMezctl } from './mezctl';

/** The services a test may leave out, to see how the CLI meets an older server (UNIMPLEMENTED). */
export type FakeService = 'bots' | 'roles' | 'cas' | 'audit' | 'identity' | 'tokens' | 'service-identities';

/** Options of {@link FakeAuthServer.start}. */
export interface FakeAuthServerOptions {
  /** Services not registered at all. */
  omit?: FakeService[];
  /** Page size the fake uses whatever the client asks, so tests see paging. */
  pageSize?: number;
  /** The message of AlreadyExists on UpsertRole; default the real server's. */
  roleExistsMessage?: (name: string) => string;
}

type Ctx = CallContext & RequestContext;

/** A stored role in the fake: the parsed role and its bookkeeping, as the auth-server keeps it. */
interface FakeRole {
  role: Role;
  createdAt: Date;
  updatedAt: Date;
  revision: number;
}

const labels = (sel: Record<string, string[]>) => Object.fromEntries(Object.entries(sel).map(([k, v]) => [k, { values: v }]));

function roleToProto(s: FakeRole): authv1.Role {
  const r = s.role;
  return {
    name: r.name,
    description: r.description,
    maxSessionTtlSeconds: Math.round(r.options.maxSessionTtlMs / 1000),
    sshExtensions: r.options.sshExtensions,
    allow: { logins: r.allow.logins, nodeLabels: labels(r.allow.nodeLabels) },
    deny: { logins: r.deny.logins, nodeLabels: labels(r.deny.nodeLabels) },
    createTime: s.createdAt,
    updateTime: s.updatedAt,
    revision: s.revision,
  };
}

/**
 * The implementation with every method it lacks answering UNIMPLEMENTED, as an older
 * server would: an RPC added to the proto must not stop the fake from listening (and
 * so every CLI test) before the fake learns it.
 */
function orUnimplemented(definition: object, implementation: object): object {
  const out: Record<string, unknown> = { ...implementation };
  const methods = 'methods' in definition ? (definition.methods as object) : definition;
  for (const name of Object.keys(methods)) {
    out[name] ??= () => {
      throw new ServerError(Status.UNIMPLEMENTED, `the fake auth server does not implement ${name}`);
    };
  }
  return out;
}

/**
 * Test support: an auth server with in-memory fakes of the public services, on a real
 * nice-grpc server over TLS on 127.0.0.1, with the platform's own error middleware — so
 * the CLI meets the same status codes, messages and TLS it meets in production. It
 * records every call, so a test can also show that a request never left the CLI.
 */
export class FakeAuthServer {
  /** Every RPC that reached a handler, in order: `RoleService.UpsertRole` and its request. */
  readonly calls: Array<{ method: string; request: unknown }> = [];
  readonly clock = new FakeClock('2026-03-24T14:00:00Z');
  readonly token = 'mzs_fake_admin_session';
  readonly bots = new Map<string, authv1.Bot>();
  /** Bot instances by id, with their lineage (GetBotInstance answers all of it). */
  readonly instances = new Map<string, authv1.BotInstance>();
  readonly roles = new Map<string, FakeRole>();
  readonly events: authv1.AuditEvent[] = [];
  /** What VerifyAuditLog answers. */
  auditChain = { ok: true, checked: 0, firstBadSeq: 0, problem: '' };
  /** Signed checkpoints CreateAuditCheckpoint made (fake signatures). */
  readonly checkpoints: authv1.AuditCheckpoint[] = [];
  userCaKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUserCaKeyOne mezite-user-ca', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUserCaKeyTwo mezite-user-ca'];
  hostCaKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostCaKeyOne mezite-host-ca'];
  /** Service identities and API tokens (seed 000). */
  readonly machine = new FakeMachineIdentities(this.clock, this.token);
  private nextBot = 1;
  private nextInstance = 1;
  private nextToken = 1;

  private constructor(
    private readonly server: GrpcServer,
    private readonly dir: string,
    /** `localhost:PORT`, as the identity file names it. */
    readonly address: string,
    /** Path of an identity file for this server (JSON, version 1). */
    readonly identityFile: string,
  ) {}

  /** Starts a server on 127.0.0.1:0 with a fresh internal PKI in a temporary directory. */
  static async start(opts: FakeAuthServerOptions = {}): Promise<FakeAuthServer> {
    const dir = mkdtempSync(join(tmpdir(), 'mezctl-test-'));
    const pki = await ensureInternalPki({ dir: join(dir, 'pki'), names: ['auth-server'] });
    const leaf = pki.leaf('auth-server');
    const server = createGrpcServer({ name: 'fake-auth-server', logger: nullLogger });
    const holder: { fake?: FakeAuthServer } = {};
    const fake = () => holder.fake as FakeAuthServer;
    const omit = new Set(opts.omit ?? []);
    const add = <D extends CompatServiceDefinition>(definition: D, implementation: Partial<ServiceImplementation<D, RequestContext>>) =>
      server.services.add(definition, orUnimplemented(definition, implementation) as ServiceImplementation<D, RequestContext>);
    if (!omit.has('bots')) add(authv1.BotServiceDefinition, botService(fake, opts.pageSize ?? 100));
    if (!omit.has('roles')) add(authv1.RoleServiceDefinition, roleService(fake, opts));
    if (!omit.has('cas')) add(authv1.CertAuthorityServiceDefinition, caService(fake));
    if (!omit.has('audit')) add(authv1.AuditServiceDefinition, auditService(fake, opts.pageSize ?? 100));
    if (!omit.has('identity')) {
      add(authv1.IdentityServiceDefinition, {
        async whoAmI(req, ctx: Ctx) {
          // The admin's session is user u-1; an API token the fake issued is its identity.
          fake().calls.push({ method: 'IdentityService.WhoAmI', request: req });
          return fake().machine.caller(ctx).whoami;
        },
      });
    }
    if (!omit.has('tokens')) add(authv1.IdentityTokenServiceDefinition, identityTokenService(fake));
    if (!omit.has('service-identities')) add(authv1.ServiceIdentityServiceDefinition, serviceIdentityService(fake, opts.pageSize ?? 100));
    const port = await server.listen('127.0.0.1:0', publicServerCredentials({ caCertPem: pki.caCertPem, certPem: leaf.certPem, keyPem: leaf.keyPem }));
    const address = `localhost:${port}`;
    const identityFile = join(dir, 'admin-identity.json');
    const f = new FakeAuthServer(server, dir, address, identityFile);
    writeFileSync(identityFile, JSON.stringify({ version: 1, auth_server: address, ca_cert: pki.caCertPem, token: f.token }), { mode: 0o600 });
    holder.fake = f;
    return f;
  }

  /** Records the call and checks the bearer token, as the real auth middleware does. */
  authorize(method: string, request: unknown, ctx: Ctx): void {
    this.calls.push({ method, request });
    if (ctx.metadata.get('authorization') !== `Bearer ${this.token}`) throw unauthenticated('invalid or expired credential');
  }

  /** The methods that were called, in order. */
  methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  /** Adds a bot directly (a test's fixture). */
  addBot(b: Partial<authv1.Bot> & { name: string }): authv1.Bot {
    const bot: authv1.Bot = {
      id: `00000000-0000-4000-8000-00000000000${this.nextBot++}`,
      roles: [],
      createTime: this.clock.now(),
      lock: undefined,
      generation: 0,
      lastSeenTime: undefined,
      certExpireTime: undefined,
      maxCertificateTtlSeconds: 0,
      instances: [],
      ...b,
    };
    this.bots.set(bot.name, bot);
    return bot;
  }

  /**
   * Adds an instance of a bot directly (a test's fixture): what a join and renewals by
   * one machine would have left. Ids are `1a000000-0000-4000-8000-00000000000N`.
   */
  addBotInstance(i: Partial<authv1.BotInstance> & { botName: string }): authv1.BotInstance {
    const instance: authv1.BotInstance = {
      id: `1a000000-0000-4000-8000-${String(this.nextInstance++).padStart(12, '0')}`,
      generation: 1,
      joinMethod: 'token',
      createTime: this.clock.now(),
      lastRenewalTime: this.clock.now(),
      lastAddress: '',
      heartbeat: undefined,
      certExpireTime: undefined,
      lock: undefined,
      lineage: [],
      ...i,
    };
    this.instances.set(instance.id, instance);
    return instance;
  }

  /** Adds a role from its YAML (a test's fixture). */
  addRole(yaml: string): Role {
    const role = parseRoleYaml(yaml);
    this.roles.set(role.name, { role, createdAt: this.clock.now(), updatedAt: this.clock.now(), revision: 1 });
    return role;
  }

  /** A fresh, predictable join token (`tok-bot-000…1`), so golden output can name it. */
  mintToken(): string {
    return `tok-bot-${String(this.nextToken++).padStart(32, '0')}`;
  }

  /** The stored bot; NotFound with the real server's message when there is none. */
  bot(name: string): authv1.Bot {
    const b = this.bots.get(name);
    if (!b) throw notFound(`bot "${name}" not found`);
    return b;
  }

  /**
   * Runs `mezctl` against this server as its admin (the identity file in
   * MEZITE_IDENTITY, nothing else from the environment) and collects what it printed.
   */
  async run(argv: string[], o: { stdin?: string; env?: NodeJS.ProcessEnv; prog?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await runMezctl({
      prog: o.prog ?? 'mezctl',
      argv,
      env: o.env ?? { MEZITE_IDENTITY: this.identityFile },
      stdout: (s) => void (stdout += s),
      stderr: (s) => void (stderr += s),
      stdin: o.stdin ?? '',
      clock: this.clock,
    });
    return { code, stdout, stderr };
  }

  /** Stops the server and removes its PKI and identity file. */
  async stop(): Promise<void> {
    await this.server.shutdown(1000);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function roleService(fake: () => FakeAuthServer, opts: FakeAuthServerOptions): ServiceImplementation<typeof authv1.RoleServiceDefinition, RequestContext> {
  const get = (name: string) => {
    const r = fake().roles.get(name);
    if (!r) throw notFound(`role "${name}" not found`);
    return r;
  };
  return {
    async upsertRole(req, ctx: Ctx) {
      const f = fake();
      f.authorize('RoleService.UpsertRole', req, ctx);
      const role = parseRoleYaml(req.yaml, req.fileName || 'role.yaml');
      const cur = f.roles.get(role.name);
      if (cur && !req.force) throw alreadyExists(opts.roleExistsMessage?.(role.name) ?? `role "${role.name}" already exists; use --force to replace it`);
      const now = f.clock.now();
      const s: FakeRole = cur ? { role, createdAt: cur.createdAt, updatedAt: now, revision: cur.revision + 1 } : { role, createdAt: now, updatedAt: now, revision: 1 };
      f.roles.set(role.name, s);
      return roleToProto(s);
    },
    async getRole(req, ctx: Ctx) {
      fake().authorize('RoleService.GetRole', req, ctx);
      return roleToProto(get(req.name));
    },
    async listRoles(req, ctx: Ctx) {
      fake().authorize('RoleService.ListRoles', req, ctx);
      const all = [...fake().roles.values()].sort((a, b) => a.role.name.localeCompare(b.role.name));
      const p = page(all, (r) => r.role.name, req.pageToken, Math.min(req.pageSize || 100, opts.pageSize ?? 100));
      return { roles: p.items.map(roleToProto), nextPageToken: p.next };
    },
    async deleteRole(req, ctx: Ctx) {
      const f = fake();
      f.authorize('RoleService.DeleteRole', req, ctx);
      get(req.name);
      if ([...f.bots.values()].some((b) => b.roles.includes(req.name))) throw failedPrecondition(`role "${req.name}" is used by at least one bot; remove it from those bots first`);
      f.roles.delete(req.name);
      return {};
    },
  };
}

function caService(fake: () => FakeAuthServer): Partial<ServiceImplementation<typeof authv1.CertAuthorityServiceDefinition, RequestContext>> {
  return {
    async exportCertAuthorities(req, ctx: Ctx) {
      fake().calls.push({ method: 'CertAuthorityService.ExportCertAuthorities', request: req });
      if (req.type !== 'user' && req.type !== 'host') throw invalidArgument('--type must be user or host');
      return { publicKeys: req.type === 'user' ? fake().userCaKeys : fake().hostCaKeys };
    },
    async signHostCertificate(req, ctx: Ctx) {
      const f = fake();
      f.authorize('CertAuthorityService.SignHostCertificate', req, ctx);
      if (req.principals.length === 0) throw invalidArgument('--principals: at least one host name or address is required');
      if (!/^ssh-ed25519 \S+/.test(req.publicKey)) throw invalidArgument('--public-key: not an OpenSSH public key');
      return { certificate: `ssh-ed25519-cert-v01@openssh.com AAAAfakecert host:${req.principals[0]}`, expireTime: new Date(f.clock.now().getTime() + req.ttlSeconds * 1000) };
    },
  };
}

function auditService(fake: () => FakeAuthServer, pageSize: number): ServiceImplementation<typeof authv1.AuditServiceDefinition, RequestContext> {
  return {
    async listAuditEvents(req, ctx: Ctx) {
      const f = fake();
      f.authorize('AuditService.ListAuditEvents', req, ctx);
      const since = req.since?.getTime();
      const all = f.events.filter((e) => (since === undefined || (e.time?.getTime() ?? 0) >= since) && e.type.startsWith(req.type)).sort((a, b) => (b.time?.getTime() ?? 0) - (a.time?.getTime() ?? 0));
      const p = page(all, (e) => e.id, req.pageToken, Math.min(req.pageSize || 100, pageSize));
      return { events: p.items, nextPageToken: p.next };
    },
    async verifyAuditLog(req, ctx: Ctx) {
      const f = fake();
      f.authorize('AuditService.VerifyAuditLog', req, ctx);
      return f.auditChain;
    },
    async createAuditCheckpoint(req, ctx: Ctx) {
      const f = fake();
      f.authorize('AuditService.CreateAuditCheckpoint', req, ctx);
      const c = { seq: f.auditChain.checked, hash: Buffer.alloc(32, 7), time: f.clock.now(), keyId: '0123456789abcdef', keyedFrom: 1, signature: Buffer.alloc(64, 9) };
      f.checkpoints.push(c);
      return c;
    },
    async listAuditCheckpoints(req, ctx: Ctx) {
      const f = fake();
      f.authorize('AuditService.ListAuditCheckpoints', req, ctx);
      const after = f.checkpoints.filter((c) => c.seq > req.afterSeq);
      return { checkpoints: after.slice(0, pageSize), more: after.length > pageSize };
    },
  };
}
