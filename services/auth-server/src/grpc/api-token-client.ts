import { codeFromGrpcStatus, GrpcStatus, isMeziteError, MeziteError, unauthenticated } from '@mezite/identity';
import { newRequestId, type MeziteCallOptions } from '@mezite/platform';
import type { tokenv1 } from '@mezite/proto';
import type { Client, Metadata } from 'nice-grpc';
import type { ApiTokenClient, ApiTokenInfo, ApiTokenPresenter, ApiTokenUsage } from '../domain/api-token-client';
import { refused } from '../domain/refusal';
import { CallBatcher } from './call-batcher';
import { TokenLeases } from './token-leases';

const opts = (requestId?: string) => (requestId ? { requestId } : {});

/** Token-service's trailers on a refused VerifyApiToken (services/token-service/src/grpc/api-token-handlers.ts). */
const REFUSAL_TRAILER = 'x-mezite-refusal';
const REFUSED_TOKEN_TRAILER = 'x-mezite-refused-token';
const REFUSED_TENANT_TRAILER = 'x-mezite-refused-tenant';
const REASON = /^[a-z ]{1,40}$/;
const ID = /^[0-9a-f-]{36}$/;

/**
 * `err` (an Unauthenticated refusal) with token-service's reason, and the token's id and
 * tenant when it was found, attached for the audit log; `err` unchanged when token-service
 * gave no well-formed reason. The values are checked: they come over the wire.
 */
function withRefusal(err: MeziteError, reason: string | undefined, id: string | undefined, tenantId: string | undefined): MeziteError {
  if (err.code !== 'Unauthenticated' || !reason || !REASON.test(reason)) return err;
  const known = id && tenantId && ID.test(id) && ID.test(tenantId);
  return refused(err.message, reason, known ? { tenantId, target: `token:${id}` } : {}, err.cause);
}

/** VerifyApiToken's refusal with the reason from its trailers (withRefusal). */
function withReason(err: unknown, trailer: Metadata | undefined): unknown {
  const text = (key: string) => {
    const v = trailer?.get(key);
    return typeof v === 'string' ? v : undefined;
  };
  return isMeziteError(err) ? withRefusal(err, text(REFUSAL_TRAILER), text(REFUSED_TOKEN_TRAILER), text(REFUSED_TENANT_TRAILER)) : err;
}

/**
 * One result of VerifyApiTokens as VerifyApiToken would have ended: the token, or the
 * same error — a refusal with token-service's reason (and the token, when found) for
 * the audit log, as `withReason` makes from the single call's trailers.
 */
function fromVerification(v: tokenv1.ApiTokenVerification): ApiTokenInfo | Error {
  try {
    if (v.token) return toInfo(v.token);
  } catch (err) {
    return err as Error;
  }
  if (v.code === GrpcStatus.OK) return new Error('token-service returned neither a token nor an error');
  return withRefusal(new MeziteError(codeFromGrpcStatus(v.code), v.message), v.refusal, v.refusedTokenId, v.refusedTenantId);
}

type ClientGrant = Parameters<ApiTokenClient['mintForClient']>[0];
type IssuedToken = { plaintext: string; token: ApiTokenInfo };

/** Most grants per MintClientApiTokens call (token-service takes up to 1000). */
const MAX_GRANT_BATCH = 256;
/** Most plaintexts per VerifyApiTokens call (token-service takes up to 1000). */
const MAX_VERIFY_BATCH = 256;
/** How long to use single calls after token-service answered that it has no VerifyApiTokens (an older replica during an upgrade). */
const SINGLE_CALLS_FOR_MS = 60_000;

function toInfo(r: tokenv1.ApiTokenRecord | undefined): ApiTokenInfo {
  if (!r || !r.createTime || !r.expireTime) throw new Error('token-service returned an incomplete token record');
  return {
    id: r.id,
    tenantId: r.tenantId,
    identityKind: r.identityKind === 'user' ? 'user' : 'service',
    identityId: r.identityId,
    env: r.envPrefix === 'dev' ? 'dev' : 'live',
    createdAt: r.createTime,
    expiresAt: r.expireTime,
    lastUsedAt: r.lastUsedTime ?? null,
    rotatedAt: r.rotateTime ?? null,
    rotationDeadline: r.rotationDeadline ?? null,
    ...(r.recentUsers.length > 0 ? { recentUsers: r.recentUsers.map(toUsage) } : {}),
  };
}

function toUsage(u: tokenv1.ApiTokenUsage): ApiTokenUsage {
  const t0 = new Date(0);
  return { hour: u.hour ?? t0, source: u.source, client: u.client, count: u.count, firstSeen: u.firstSeen ?? t0, lastSeen: u.lastSeen ?? t0 };
}

/** A verification waiting for the next batch: the plaintext and who presented it. */
interface Presented {
  plaintext: string;
  presenter: ApiTokenPresenter | undefined;
}

/** Verifications with one key in one turn are sent once (and counted by `coalesced`). */
const batchKey = (p: Presented) => `${p.plaintext}\n${p.presenter?.source ?? ''}\n${p.presenter?.client ?? ''}`;

/** Most (token, presenter) pairs of leased uses held between reports. */
const MAX_LEASED_USES = 10_000;

/** ApiTokenClient over token-service's gRPC API. */
export class GrpcApiTokenClient implements ApiTokenClient {
  /**
   * Verifications are coalesced: those asked in one turn of the event loop go to
   * token-service in one VerifyApiTokens call, a plaintext asked several times once
   * (call-batcher.ts). Each is still decided by token-service after it was asked, so a
   * token deleted a moment before is refused exactly as with one call per verification.
   */
  private readonly verifications = new CallBatcher<Presented, ApiTokenInfo>({
    run: (p) => this.verifyBatch(p),
    maxBatch: MAX_VERIFY_BATCH,
    key: batchKey,
  });
  private singleCallsUntil = 0;
  /** Verifications coalesced into one (same plaintext and presenter, one turn): how many each batch entry stands for. */
  private readonly coalesced = new Map<string, number>();
  /** Uses answered from a lease since the last report, by token and presenter (bounded). */
  private leasedUses = new Map<string, { tokenId: string; presenter: ApiTokenPresenter; uses: number }>();
  private usageTimer: NodeJS.Timeout | undefined;
  /**
   * client_credentials grants with the built-in provider, coalesced the same way: one
   * MintClientApiTokens call (one read of the secrets, one insert of the tokens) for
   * the grants of one turn. Never deduplicated: each grant mints its own token.
   */
  private readonly grants = new CallBatcher<ClientGrant, IssuedToken>({ run: (g) => this.mintBatch(g), maxBatch: MAX_GRANT_BATCH });
  private singleGrantsUntil = 0;

  /**
   * @param leases verified tokens reused for the lease token-service grants with each
   *   (token-leases.ts: a revocation returns only after every earlier lease ran out).
   */
  constructor(
    private readonly c: Client<typeof tokenv1.ApiTokenServiceDefinition, MeziteCallOptions>,
    private readonly leases = new TokenLeases(),
  ) {}

  async mint(i: Parameters<ApiTokenClient['mint']>[0]) {
    const r = await this.c.mintApiToken({ tenantId: i.tenantId, identityKind: i.identityKind, identityId: i.identityId, envPrefix: i.env, ttlSeconds: i.ttlSeconds }, opts(i.requestId));
    return { plaintext: r.plaintext, token: toInfo(r.token) };
  }
  /** Batched (see `grants`): the grants of one event-loop turn go to token-service together. */
  mintForClient(i: ClientGrant): Promise<IssuedToken> {
    return this.grants.call(i);
  }
  private async mintBatch(grants: ClientGrant[]): Promise<Array<IssuedToken | Error>> {
    if (Date.now() < this.singleGrantsUntil) return this.mintEach(grants);
    try {
      const r = await this.c.mintClientApiTokens(
        { grants: grants.map((g) => ({ clientId: g.clientId, secret: g.secret, tenantId: g.tenantId, serviceIdentityId: g.serviceIdentityId, envPrefix: g.env, ttlSeconds: g.ttlSeconds })) },
        { requestId: newRequestId() },
      );
      return r.results.map((x) => {
        if (!x.minted) return new MeziteError(codeFromGrpcStatus(x.code === GrpcStatus.OK ? GrpcStatus.INTERNAL : x.code), x.message || 'token-service returned neither a token nor an error');
        try {
          return { plaintext: x.minted.plaintext, token: toInfo(x.minted.token) };
        } catch (err) {
          return err as Error;
        }
      });
    } catch (err) {
      if ((err as { cause?: { code?: unknown } }).cause?.code !== GrpcStatus.UNIMPLEMENTED) throw err;
      this.singleGrantsUntil = Date.now() + SINGLE_CALLS_FOR_MS;
      return this.mintEach(grants);
    }
  }
  /** A token-service without MintClientApiTokens (an older replica): verify, check whom the secret is bound to, mint. */
  private mintEach(grants: ClientGrant[]): Promise<Array<IssuedToken | Error>> {
    return Promise.all(
      grants.map(async (g) => {
        try {
          const bound = await this.verifyClientSecret(g.clientId, g.secret, g.requestId);
          if (bound.tenantId !== g.tenantId || bound.serviceIdentityId !== g.serviceIdentityId) throw unauthenticated('invalid client credentials');
          return await this.mint({ tenantId: g.tenantId, identityKind: 'service', identityId: g.serviceIdentityId, env: g.env, ttlSeconds: g.ttlSeconds, ...(g.requestId ? { requestId: g.requestId } : {}) });
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err));
        }
      }),
    );
  }
  /**
   * From a lease when one runs (`leases`), else batched (`verifications`); `requestId`
   * is not sent: one call serves many requests.
   */
  verify(plaintext: string, _requestId?: string, presenter?: ApiTokenPresenter): Promise<ApiTokenInfo> {
    const leased = this.leases.get(this.leases.key(plaintext));
    if (leased) {
      if (presenter) this.noteLeasedUse(leased.id, presenter);
      return Promise.resolve(leased);
    }
    const p = { plaintext, presenter };
    const k = batchKey(p);
    this.coalesced.set(k, (this.coalesced.get(k) ?? 0) + 1);
    return this.verifications.call(p);
  }

  /** Counts a use answered from a lease, for the next RecordApiTokenUses report (at most MAX_LEASED_USES presenters; past it they go uncounted). */
  private noteLeasedUse(tokenId: string, presenter: ApiTokenPresenter): void {
    const k = `${tokenId}\n${presenter.source}\n${presenter.client}`;
    const e = this.leasedUses.get(k);
    if (e) e.uses++;
    else if (this.leasedUses.size < MAX_LEASED_USES) this.leasedUses.set(k, { tokenId, presenter, uses: 1 });
  }

  /**
   * Sends the uses answered from leases since the last report (RecordApiTokenUses), so
   * a token's usage summary counts them too. Never throws: on failure they are kept
   * for the next report (within the bound).
   */
  async reportLeasedUses(): Promise<void> {
    if (this.leasedUses.size === 0) return;
    const batch = this.leasedUses;
    this.leasedUses = new Map();
    try {
      await this.c.recordApiTokenUses({ uses: [...batch.values()].map((u) => ({ tokenId: u.tokenId, presenter: { ...u.presenter, uses: u.uses } })) }, { requestId: newRequestId() });
    } catch {
      for (const [k, u] of batch) {
        const e = this.leasedUses.get(k);
        if (e) e.uses += u.uses;
        else if (this.leasedUses.size < MAX_LEASED_USES) this.leasedUses.set(k, u);
      }
    }
  }

  /** Reports leased uses every `intervalMs` until `stopUsageReports`. */
  startUsageReports(intervalMs = 5_000): void {
    if (this.usageTimer) return;
    this.usageTimer = setInterval(() => void this.reportLeasedUses(), intervalMs);
    this.usageTimer.unref();
  }

  /** Stops the reports and sends what is pending. */
  async stopUsageReports(): Promise<void> {
    if (this.usageTimer) clearInterval(this.usageTimer);
    this.usageTimer = undefined;
    await this.reportLeasedUses();
  }
  private async verifyBatch(presented: Presented[]): Promise<Array<ApiTokenInfo | Error>> {
    if (Date.now() < this.singleCallsUntil) return this.verifyEach(presented);
    const plaintexts = presented.map((p) => p.plaintext);
    try {
      const sentAt = this.leases.now();
      // A request id of its own: the batch belongs to no one request.
      const presenters = presented.map((p) => ({ source: p.presenter?.source ?? '', client: p.presenter?.client ?? '', uses: this.takeCoalesced(p) }));
      const r = await this.c.verifyApiTokens({ plaintexts, presenters }, { requestId: newRequestId() });
      if (r.results.length !== plaintexts.length) throw new Error(`token-service answered ${r.results.length} of ${plaintexts.length} verifications`);
      return r.results.map((v, i) => {
        const result = fromVerification(v);
        if (!(result instanceof Error) && v.leaseMs > 0) this.leases.put(this.leases.key(plaintexts[i] as string), result, sentAt, v.leaseMs);
        return result;
      });
    } catch (err) {
      if ((err as { cause?: { code?: unknown } }).cause?.code !== GrpcStatus.UNIMPLEMENTED) throw err;
      this.singleCallsUntil = Date.now() + SINGLE_CALLS_FOR_MS;
      return this.verifyEach(presented);
    }
  }
  /** How many verifications batch entry `p` stands for (forgotten once read). */
  private takeCoalesced(p: Presented): number {
    const k = batchKey(p);
    const n = this.coalesced.get(k) ?? 1;
    this.coalesced.delete(k);
    return Math.max(1, n);
  }
  private verifyEach(presented: Presented[]): Promise<Array<ApiTokenInfo | Error>> {
    return Promise.all(presented.map((p) => this.verifyOne(p.plaintext, undefined, p.presenter).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))));
  }
  private async verifyOne(plaintext: string, requestId?: string, presenter?: ApiTokenPresenter) {
    let trailer: Metadata | undefined;
    try {
      return toInfo(await this.c.verifyApiToken({ plaintext, presenter: presenter ? { ...presenter, uses: this.takeCoalesced({ plaintext, presenter }) } : undefined }, { ...opts(requestId), onTrailer: (t) => (trailer = t) }));
    } catch (err) {
      throw withReason(err, trailer);
    }
  }
  async list(tenantId: string, identityId: string, requestId?: string) {
    return (await this.c.listApiTokens({ tenantId, identityId }, opts(requestId))).tokens.map(toInfo);
  }
  async rotate(i: Parameters<ApiTokenClient['rotate']>[0]) {
    const r = await this.c.rotateApiToken({ tenantId: i.tenantId, identityId: i.identityId, id: i.id, overlapSeconds: 0 }, opts(i.requestId));
    if (!r.rotationDeadline) throw new Error('token-service returned no rotation_deadline');
    return { plaintext: r.plaintext, token: toInfo(r.token), rotationDeadline: r.rotationDeadline };
  }
  async delete(i: Parameters<ApiTokenClient['delete']>[0]) {
    await this.c.deleteApiToken({ tenantId: i.tenantId, identityId: i.identityId, id: i.id }, opts(i.requestId));
  }
  async usage(i: Parameters<ApiTokenClient['usage']>[0]) {
    const r = await this.c.getApiTokenUsage({ tenantId: i.tenantId, identityId: i.identityId, id: i.id }, opts(i.requestId));
    return { usage: r.usage.map(toUsage), lastUsedAt: r.lastUsedTime ?? null };
  }
  async finishRotation(i: Parameters<ApiTokenClient['finishRotation']>[0]) {
    await this.c.finishApiTokenRotation({ tenantId: i.tenantId, identityId: i.identityId, id: i.id, force: i.force, presentedTokenId: i.presentedTokenId ?? '' }, opts(i.requestId));
  }
  async setClientSecret(i: Parameters<ApiTokenClient['setClientSecret']>[0]) {
    return (await this.c.setClientSecret({ tenantId: i.tenantId, clientId: i.clientId, serviceIdentityId: i.serviceIdentityId, secret: i.secret ?? '' }, opts(i.requestId))).secret;
  }
  async verifyClientSecret(clientId: string, secret: string, requestId?: string) {
    return this.c.verifyClientSecret({ clientId, secret }, opts(requestId));
  }
  async deleteClientSecret(clientId: string, requestId?: string) {
    await this.c.deleteClientSecret({ clientId }, opts(requestId));
  }
}
