import { alreadyExists, failedPrecondition, invalidArgument, notFound, parseIdentityRef, permissionDenied, unauthenticated, type FakeClock } from '@mezite/identity';
import type { RequestContext } from '@mezite/platform';
import type { authv1 } from '@mezite/proto';
import type { CallContext, ServiceImplementation } from 'nice-grpc';
import type { FakeAuthServer } from './fake-auth-server';

type Ctx = CallContext & RequestContext;

/** The real server's anti-escalation message (seed 000, step 4), word for word. */
export const API_TOKEN_CANNOT_MINT = 'a caller authenticated via an API token cannot mint another API token; sign in interactively to issue tokens';

/** The real server's refusal of a token caller rotating another token (issue 14), word for word. */
export const API_TOKEN_ROTATES_ITSELF = 'a caller authenticated via an API token may rotate only the token it presents: present the token you mean to rotate';

/** A stored API token in the fake: its metadata and plaintext. */
export interface FakeApiToken {
  token: authv1.ApiToken;
  plaintext: string;
  /** Lifetime in seconds as minted. */
  ttlSeconds: number;
  deleted: boolean;
  /** The id of the successor a rotation gave it. */
  replacedBy?: string;
}

/** Who a call's bearer credential is, as the fake's WhoAmI and token handlers see it. */
export interface FakeCaller {
  via: 'session' | 'api-token';
  /** `user:<uuid>` or `service:<uuid>`: whose tokens it lists and rotates. */
  ref: string;
  /** The API token presented, when `via` is `api-token`. */
  tokenId?: string;
  whoami: authv1.WhoAmIResponse;
}

const DAY = 86_400;
/** The svc-demo tenant's domain in the fake. */
export const FAKE_SERVICE_TENANT = 'd0000000-0000-4000-8000-000000000000';

/**
 * Test support: service identities and API tokens behind the fake auth server, with
 * the real server's rules where the CLI can see them — newest token first, a rotation
 * overlap of 48 h, API-token callers refused when minting, client_credentials only.
 */
export class FakeMachineIdentities {
  readonly services = new Map<string, { identity: authv1.ServiceIdentity; secret: string }>();
  readonly tokens: FakeApiToken[] = [];
  /** The `authorization` header of every IssueServiceToken call; undefined when none was sent. */
  readonly issueServiceAuthorizations: Array<string | undefined> = [];
  private n = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly sessionToken: string,
  ) {}

  private uuid(prefix: string): string {
    return `${prefix}000000-0000-4000-8000-${String(++this.n).padStart(12, '0')}`;
  }

  /** Adds a service identity directly (a test's fixture, like the demo's svc-deployer). */
  addServiceIdentity(name: string, secret: string, clientId = name): authv1.ServiceIdentity {
    const identity: authv1.ServiceIdentity = { id: this.uuid('5e'), name, clientId, createTime: this.clock.now(), tenant: FAKE_SERVICE_TENANT };
    this.services.set(name, { identity, secret });
    return identity;
  }

  /** Mints a token; ttl 0 means the server's default (90 days); `expireTime` overrides the lifetime (a rotation's successor). */
  mint(identityRef: string, env: string, ttlSeconds: number, expireTime?: Date): FakeApiToken {
    const now = this.clock.now();
    const ttl = ttlSeconds || 90 * DAY;
    const id = this.uuid('a0');
    const t: FakeApiToken = {
      token: { id, envPrefix: env, createTime: now, expireTime: expireTime ?? new Date(now.getTime() + ttl * 1000), lastUsedTime: undefined, rotateTime: undefined, rotationDeadline: undefined, identityRef, recentUsers: [] },
      plaintext: `psk_${env}_fake${String(this.n).padStart(18, '0')}`,
      ttlSeconds: ttl,
      deleted: false,
    };
    this.tokens.push(t);
    return t;
  }

  /** Resolves the call's bearer credential: the admin's session or a live API token. */
  caller(ctx: Ctx): FakeCaller {
    const header = ctx.metadata.get('authorization');
    if (header === `Bearer ${this.sessionToken}`) return { via: 'session', ref: 'user:u-1', whoami: { principal: 'user', subject: 'u-1', domain: 'd-1', acr: '', amr: [] } };
    const now = this.clock.now().getTime();
    const t = this.tokens.find((x) => header === `Bearer ${x.plaintext}` && !x.deleted && now < (x.token.expireTime?.getTime() ?? 0) && now < (x.token.rotationDeadline?.getTime() ?? Infinity));
    // last_used_at is left alone: the real server writes it in batches, up to a minute late.
    if (!t) throw unauthenticated('invalid or expired credential');
    const ref = parseIdentityRef(t.token.identityRef);
    return { via: 'api-token', ref: t.token.identityRef, tokenId: t.token.id, whoami: { principal: ref.kind, subject: ref.id, domain: FAKE_SERVICE_TENANT, acr: '', amr: [] } };
  }

  /** One of the caller's live tokens, or NotFound. */
  owned(caller: FakeCaller, id: string): FakeApiToken {
    const t = this.tokens.find((x) => x.token.id === id && x.token.identityRef === caller.ref && !x.deleted);
    if (!t) throw notFound(`API token ${id} not found`);
    return t;
  }

  /** Marks token `t` and every successor after it deleted, as the real server revokes a rotation chain. */
  deleteChain(t: FakeApiToken): void {
    for (let x: FakeApiToken | undefined = t; x; x = x.replacedBy ? this.tokens.find((y) => y.token.id === x?.replacedBy) : undefined) x.deleted = true;
  }
}

/** The fake's IdentityTokenService. */
export function identityTokenService(fake: () => FakeAuthServer): ServiceImplementation<typeof authv1.IdentityTokenServiceDefinition, RequestContext> {
  const issued = (t: FakeApiToken, now: Date): authv1.IssuedToken => ({
    accessToken: t.plaintext,
    tokenType: 'Bearer',
    expiresIn: Math.round(((t.token.expireTime?.getTime() ?? 0) - now.getTime()) / 1000),
    id: t.token.id,
    expireTime: t.token.expireTime,
    envPrefix: t.token.envPrefix,
  });
  return {
    async issueServiceToken(req, ctx: Ctx) {
      const f = fake();
      f.calls.push({ method: 'IdentityTokenService.IssueServiceToken', request: req });
      f.machine.issueServiceAuthorizations.push(ctx.metadata.get('authorization'));
      if (req.grantType !== 'client_credentials') throw invalidArgument(`unsupported grant_type ${JSON.stringify(req.grantType.slice(0, 40))}: only client_credentials is supported`);
      const svc = [...f.machine.services.values()].find((s) => s.identity.clientId === req.clientId);
      if (!svc || svc.secret !== req.clientSecret) throw unauthenticated('invalid client credentials');
      return issued(f.machine.mint(`service:${svc.identity.id}`, 'live', DAY), f.clock.now());
    },
    async issueToken(req, ctx: Ctx) {
      const f = fake();
      f.calls.push({ method: 'IdentityTokenService.IssueToken', request: req });
      if (f.machine.caller(ctx).via === 'api-token') throw permissionDenied(API_TOKEN_CANNOT_MINT);
      parseIdentityRef(req.identityRef);
      if (req.envPrefix !== 'live' && req.envPrefix !== 'dev') throw invalidArgument('--env-prefix must be live or dev');
      return issued(f.machine.mint(req.identityRef, req.envPrefix, req.ttlSeconds), f.clock.now());
    },
    async listTokens(req, ctx: Ctx) {
      const f = fake();
      f.calls.push({ method: 'IdentityTokenService.ListTokens', request: req });
      const caller = f.machine.caller(ctx);
      const mine = f.machine.tokens.filter((t) => t.token.identityRef === caller.ref && !t.deleted).reverse();
      return { tokens: mine.map((t) => t.token), nextPageToken: '' };
    },
    async rotateToken(req, ctx: Ctx) {
      const f = fake();
      f.calls.push({ method: 'IdentityTokenService.RotateToken', request: req });
      const caller = f.machine.caller(ctx);
      if (caller.via === 'api-token' && caller.tokenId !== req.id) throw permissionDenied(API_TOKEN_ROTATES_ITSELF);
      const old = f.machine.owned(caller, req.id);
      const now = f.clock.now();
      // The successor expires with the token it replaces.
      const next = f.machine.mint(old.token.identityRef, old.token.envPrefix, old.ttlSeconds, old.token.expireTime);
      old.replacedBy = next.token.id;
      const deadline = new Date(Math.min(now.getTime() + 2 * DAY * 1000, old.token.expireTime?.getTime() ?? Infinity));
      Object.assign(old.token, { rotateTime: now, rotationDeadline: deadline });
      return { plaintext: next.plaintext, token: next.token, rotationDeadline: deadline, oldTokenUsers: [] };
    },
    async getTokenUsage(req, ctx: Ctx) {
      const f = fake();
      f.calls.push({ method: 'IdentityTokenService.GetTokenUsage', request: req });
      const t = f.machine.owned(f.machine.caller(ctx), req.id);
      return { usage: [], lastUsedTime: t.token.lastUsedTime };
    },
    async finishRotation(req, ctx: Ctx) {
      const f = fake();
      f.calls.push({ method: 'IdentityTokenService.FinishRotation', request: req });
      const t = f.machine.owned(f.machine.caller(ctx), req.id);
      const now = f.clock.now();
      if (!t.token.rotationDeadline || t.token.rotationDeadline <= now) throw failedPrecondition('api token is not in a rotation overlap');
      t.token.rotationDeadline = now;
      return {};
    },
    async deleteToken(req, ctx: Ctx) {
      const f = fake();
      f.calls.push({ method: 'IdentityTokenService.DeleteToken', request: req });
      f.machine.deleteChain(f.machine.owned(f.machine.caller(ctx), req.id));
      return {};
    },
  };
}

/** The fake's ServiceIdentityService (admins only, as the real one). */
export function serviceIdentityService(fake: () => FakeAuthServer, pageSize: number): ServiceImplementation<typeof authv1.ServiceIdentityServiceDefinition, RequestContext> {
  const get = (name: string) => {
    const s = fake().machine.services.get(name);
    if (!s) throw notFound(`service identity "${name}" not found`);
    return s;
  };
  let secrets = 0;
  const newSecret = () => `mzcs_fake_secret_${String(++secrets).padStart(4, '0')}`;
  return {
    async createServiceIdentity(req, ctx: Ctx) {
      const f = fake();
      f.authorize('ServiceIdentityService.CreateServiceIdentity', req, ctx);
      if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(req.name)) throw invalidArgument(`invalid service identity name "${req.name}": use 1 to 63 lower-case letters, digits and '-'`);
      const clientId = req.clientId || req.name;
      if ([...f.machine.services.values()].some((s) => s.identity.clientId === clientId)) throw alreadyExists(`client id "${clientId}" is taken`);
      const secret = newSecret();
      return { serviceIdentity: f.machine.addServiceIdentity(req.name, secret, clientId), clientSecret: secret };
    },
    async listServiceIdentities(req, ctx: Ctx) {
      const f = fake();
      f.authorize('ServiceIdentityService.ListServiceIdentities', req, ctx);
      const all = [...f.machine.services.values()].map((s) => s.identity).sort((a, b) => a.name.localeCompare(b.name));
      const start = req.pageToken ? all.findIndex((s) => s.name === req.pageToken) + 1 : 0;
      const size = Math.min(req.pageSize || 100, pageSize);
      const items = all.slice(start, start + size);
      return { serviceIdentities: items, nextPageToken: start + size < all.length ? (items[items.length - 1]?.name ?? '') : '' };
    },
    async deleteServiceIdentity(req, ctx: Ctx) {
      const f = fake();
      f.authorize('ServiceIdentityService.DeleteServiceIdentity', req, ctx);
      get(req.name);
      f.machine.services.delete(req.name);
      return {};
    },
    async rotateServiceIdentitySecret(req, ctx: Ctx) {
      const f = fake();
      f.authorize('ServiceIdentityService.RotateServiceIdentitySecret', req, ctx);
      const s = get(req.name);
      s.secret = newSecret();
      if (req.revokeTokens) for (const t of f.machine.tokens) if (t.token.identityRef === `service:${s.identity.id}`) t.deleted = true;
      return { serviceIdentity: s.identity, clientSecret: s.secret };
    },
  };
}
