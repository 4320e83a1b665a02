import { GrpcStatus, invalidArgument, isMeziteError } from '@mezite/identity';
import { meziteMetrics, refusalReason, type RequestContext } from '@mezite/platform';
import type { tokenv1 } from '@mezite/proto';
import type { ApiTokenManager } from '../domain/api-token-manager';
import { apiTokenRefusalOf } from '../domain/api-token-refusal';
import type { ApiTokenVerifier } from '../domain/api-token-verifier';
import type { ClientSecretManager } from '../domain/client-secret-manager';
import { issueClientTokens } from '../domain/client-token-issuer';
import { toApiTokenRecord } from './api-token-mappers';

/** Most plaintexts one VerifyApiTokens call may carry (the auth-server sends at most 256). */
export const MAX_VERIFICATIONS_PER_CALL = 1000;

/** Most grants one MintClientApiTokens call may carry (the auth-server sends at most 256). */
export const MAX_GRANTS_PER_CALL = 1000;

const VERIFY = '/mezite.token.v1.ApiTokenService/VerifyApiTokens';
const MINT = '/mezite.token.v1.ApiTokenService/MintClientApiTokens';
const NONE: tokenv1.ApiTokenVerification = { token: undefined, code: GrpcStatus.OK, message: '', refusal: '', refusedTokenId: '', refusedTenantId: '', leaseMs: 0 };

/**
 * VerifyApiTokens: each plaintext verified exactly as VerifyApiToken verifies it (the
 * same ApiTokenVerifier call, so the state of each token is read from the shared cache
 * now), concurrently, so their cache reads go to Redis in one pipelined round trip. A
 * plaintext given twice by one presenter is verified once. Each failure is the error the single call
 * would have sent (status code and message, as the server middleware maps them), plus
 * the refusal's reason and token for the auth-server's audit log — which the single
 * call sends as trailers. A verified token comes with `leaseMs`, how long the caller
 * may reuse the answer: ApiTokenManager waits that long after every deletion and
 * rotation before it returns (configured together, MEZITE_API_TOKEN_LEASE).
 */
export async function verifyApiTokens(verifier: ApiTokenVerifier, req: tokenv1.VerifyApiTokensRequest, ctx: RequestContext, leaseMs: number): Promise<tokenv1.VerifyApiTokensResponse> {
  if (req.plaintexts.length > MAX_VERIFICATIONS_PER_CALL) throw invalidArgument(`at most ${MAX_VERIFICATIONS_PER_CALL} plaintexts per call`);
  if (req.presenters.length > 0 && req.presenters.length !== req.plaintexts.length) throw invalidArgument('presenters must have one entry per plaintext, or none');
  // A plaintext given twice (by two presenters) is verified once per presenter: each
  // verification counts its presenter's uses (the verifier's cache answers the repeats).
  const once = new Map<string, Promise<tokenv1.ApiTokenVerification>>();
  const results = req.plaintexts.map((p, i) => {
    const who = req.presenters[i];
    const k = `${p}\n${who?.source ?? ''}\n${who?.client ?? ''}`;
    let r = once.get(k);
    if (!r) once.set(k, (r = verifyOne(verifier, p, ctx, leaseMs, who)));
    return r;
  });
  return { results: await Promise.all(results) };
}

async function verifyOne(verifier: ApiTokenVerifier, plaintext: string, ctx: RequestContext, leaseMs: number, who?: tokenv1.ApiTokenPresenter): Promise<tokenv1.ApiTokenVerification> {
  try {
    return { ...NONE, token: toApiTokenRecord(await verifier.verify(plaintext, who, Math.min(Math.max(who?.uses ?? 1, 1), 1_000_000))), leaseMs };
  } catch (err) {
    const r = apiTokenRefusalOf(err);
    return { ...NONE, ...failure(err, ctx, VERIFY), refusal: r?.reason ?? '', refusedTokenId: r?.token?.id ?? '', refusedTenantId: r?.token?.tenantId ?? '' };
  }
}

/**
 * MintClientApiTokens: each grant checked and minted as issueClientTokens decides, all
 * with one read of the secrets and one write of the tokens. Each failure is the error
 * its own call would have ended with; a store that cannot be reached fails the call.
 */
export async function mintClientApiTokens(secrets: ClientSecretManager, tokens: ApiTokenManager, req: tokenv1.MintClientApiTokensRequest, ctx: RequestContext): Promise<tokenv1.MintClientApiTokensResponse> {
  if (req.grants.length > MAX_GRANTS_PER_CALL) throw invalidArgument(`at most ${MAX_GRANTS_PER_CALL} grants per call`);
  const issued = await issueClientTokens(
    secrets,
    tokens,
    req.grants.map((g) => ({ clientId: g.clientId, secret: g.secret, tenantId: g.tenantId, serviceIdentityId: g.serviceIdentityId, env: g.envPrefix, ttlSeconds: g.ttlSeconds })),
  );
  ctx.log.debug('api tokens minted for clients', { grants: req.grants.length, minted: issued.filter((r) => !(r instanceof Error)).length });
  return {
    results: issued.map((r) => (r instanceof Error ? { minted: undefined, ...failure(r, ctx, MINT) } : { minted: { plaintext: r.plaintext, token: toApiTokenRecord(r.token) }, code: GrpcStatus.OK, message: '' })),
  };
}

/**
 * The status and message one item's error would have had as a call of its own, as the
 * server middleware maps them (refusals counted by reason; anything but a domain error
 * logged and answered as a generic INTERNAL naming the request).
 */
function failure(err: unknown, ctx: RequestContext, method: string): { code: number; message: string } {
  if (isMeziteError(err) && err.code !== 'Internal') {
    if (err.code !== 'Unavailable' && err.code !== 'DeadlineExceeded') meziteMetrics.refusals.inc({ reason: refusalReason(err.code), method });
    if (err.cause) ctx.log.debug('request refused', { code: err.code, reason: err.message, cause: err.cause });
    return { code: err.grpcStatus, message: err.message };
  }
  ctx.log.error('unhandled error', { err });
  return { code: GrpcStatus.INTERNAL, message: `internal error (request id ${ctx.requestId})` };
}
