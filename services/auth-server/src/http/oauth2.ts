import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMeziteError, type MeziteError } from '@mezite/identity';
import type { Logger } from '@mezite/platform';
import type { ApiTokenClient } from '../domain/api-token-client';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import type { RefusalAuditor, RefusalEvent } from '../domain/refusal-auditor';
import { refused } from '../domain/refusal';
import type { IdentityTokenManager } from '../domain/identity-token-manager';
import { clientAuthKeys, type FailureLimiter } from '../domain/failure-limiter';
import type { ServiceIdentityStore } from '../domain/service-identity';

const MAX_BODY = 16 * 1024;

/** What the OAuth2 endpoints need. */
export interface OAuth2Deps {
  tokens: IdentityTokenManager;
  apiTokens: ApiTokenClient;
  services: ServiceIdentityStore;
  log: Logger;
  /** The issuer URL (this server's HTTP base URL). */
  issuer: () => string;
  /**
   * Who a bearer credential is and whether it may introspect tokens (admins). A refused
   * bearer throws (Unauthenticated, audited by the authenticator; ResourceExhausted when
   * its source is over the limit).
   */
  canIntrospect: (bearer: string, source: string | undefined, requestId: string, userAgent?: string) => Promise<{ actor: string; tenantId: string; allowed: boolean }>;
  /** Revocations and introspections are audited; a success only once its record is written. */
  audit: Pick<AuditLog, 'record'>;
  /** Refused revocations and introspections, bounded per source (anonymous callers). */
  refusals: Pick<RefusalAuditor, 'refused' | 'rateLimited'>;
  /** Checks client credentials with the client's tenant's machine identity provider. */
  verifyClient: (clientId: string, secret: string, requestId: string) => Promise<void>;
  newRequestId: () => string;
  /** Brute-force protection shared with the token endpoint's client authentication. */
  limiter?: FailureLimiter;
}

/** An answer of an OAuth2 endpoint, written by `send`. */
export type Reply = { status: number; body: unknown; headers?: Record<string, string> };

/**
 * What the HTTP server read of a request before the endpoint runs: the body (`null`
 * when over 16 KiB: 413) and the caller's address, taken before the body (reading
 * stops by destroying the request, which takes its socket away).
 */
export interface ReadRequest {
  body: Buffer | null;
  source: string | undefined;
  /**
   * The request's id: in the `x-request-id` response header, its log lines, its span and
   * every audit record it writes, so a refused caller can quote it to an admin.
   */
  requestId: string;
}

/** An OAuth2 error reply (RFC 6749 §5.2: `error`, `error_description`). */
export function oauthError(status: number, error: string, description: string, headers?: Record<string, string>): Reply {
  // RFC 6749 §5.2's character set, and short, whatever a message carries.
  const text = description.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?').slice(0, 200);
  return { status, body: { error, error_description: text }, ...(headers ? { headers } : {}) };
}

/**
 * Reads a request's body, at most 16 KiB (then stops reading: `null`). The HTTP server
 * reads it before the endpoint takes an in-flight slot, so a slow sender holds a
 * connection but not a slot (http-server.ts).
 */
export async function readRequest(req: IncomingMessage, requestId: string, source: string | undefined = req.socket.remoteAddress, maxBody = MAX_BODY): Promise<ReadRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBody) return { body: null, source, requestId };
    chunks.push(c as Buffer);
  }
  return { body: Buffer.concat(chunks), source, requestId };
}

/** Parses an application/x-www-form-urlencoded body (at most 16 KiB). */
function readForm(req: IncomingMessage, body: Buffer | null): URLSearchParams | Reply {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return oauthError(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
  if (body === null) return oauthError(413, 'invalid_request', 'request body too large');
  const form = new URLSearchParams(body.toString('utf8'));
  for (const k of new Set(form.keys())) if (form.getAll(k).length > 1) return oauthError(400, 'invalid_request', `parameter ${echo(k)} is repeated`);
  return form;
}

/** Client authentication: client_secret_basic or client_secret_post, not both (RFC 6749 §2.3.1). */
function clientCredentials(req: IncomingMessage, form: URLSearchParams): { id: string; secret: string; basic: boolean } | Reply {
  const auth = req.headers.authorization;
  const postId = form.get('client_id');
  const postSecret = form.get('client_secret');
  if (auth?.startsWith('Basic ')) {
    if (postSecret !== null) return oauthError(400, 'invalid_request', 'use one client authentication method, not both');
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return oauthError(401, 'invalid_client', 'malformed Basic credentials', { 'www-authenticate': 'Basic realm="mezite"' });
    try {
      // RFC 6749 §2.3.1: both parts are form-urlencoded, so '+' is a space.
      const formDecode = (x: string) => decodeURIComponent(x.replace(/\+/g, '%20'));
      return { id: formDecode(decoded.slice(0, i)), secret: formDecode(decoded.slice(i + 1)), basic: true };
    } catch {
      return oauthError(401, 'invalid_client', 'malformed Basic credentials', { 'www-authenticate': 'Basic realm="mezite"' });
    }
  }
  if (postId !== null && postSecret !== null) return { id: postId, secret: postSecret, basic: false };
  return oauthError(401, 'invalid_client', 'client authentication is required', { 'www-authenticate': 'Basic realm="mezite"' });
}

const isReply = (x: unknown): x is Reply => typeof x === 'object' && x !== null && 'status' in x && 'body' in x;

function mapError(err: unknown, basic: boolean, log: Logger, requestId: string): Reply {
  const e = err as MeziteError;
  if (isMeziteError(err, 'Unauthenticated')) return oauthError(401, 'invalid_client', 'invalid client credentials', basic ? { 'www-authenticate': 'Basic realm="mezite"' } : undefined);
  if (isMeziteError(err, 'InvalidArgument')) return oauthError(400, 'invalid_request', e.message);
  if (isMeziteError(err, 'ResourceExhausted')) return oauthError(429, 'slow_down', e.message);
  if (isMeziteError(err, 'Unavailable')) return oauthError(503, 'temporarily_unavailable', e.message);
  log.error('oauth2 endpoint failed', { err, request_id: requestId });
  return oauthError(500, 'server_error', `internal error (request id ${requestId})`);
}

/** POST /oauth2/token — RFC 6749 §4.4 client_credentials. */
export async function tokenEndpoint(req: IncomingMessage, d: OAuth2Deps, read: ReadRequest): Promise<Reply> {
  const form = readForm(req, read.body);
  if (isReply(form)) return form;
  const client = clientCredentials(req, form);
  if (isReply(client)) return client;
  const grant = form.get('grant_type');
  if (!grant) return oauthError(400, 'invalid_request', 'grant_type is required');
  if (grant !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', `grant_type ${echo(grant)} is not supported; use client_credentials`);
  try {
    const r = await d.tokens.issueService({ clientId: client.id, clientSecret: client.secret, grantType: grant, requestId: read.requestId, ...(read.source ? { source: read.source } : {}) });
    return {
      status: 200,
      body: { access_token: r.plaintext, token_type: 'Bearer', expires_in: Math.max(0, Math.round((r.token.expiresAt.getTime() - Date.now()) / 1000)) },
      headers: { pragma: 'no-cache' },
    };
  } catch (err) {
    return mapError(err, client.basic, d.log, read.requestId);
  }
}

/** POST /oauth2/revoke — RFC 7009: a client revokes its own token; unknown tokens answer 200 too. */
export async function revocationEndpoint(req: IncomingMessage, d: OAuth2Deps, read: ReadRequest): Promise<Reply> {
  const form = readForm(req, read.body);
  if (isReply(form)) return form;
  const client = clientCredentials(req, form);
  if (isReply(client)) return client;
  const token = form.get('token');
  if (!token) return oauthError(400, 'invalid_request', 'token is required');
  const rid = read.requestId;
  const keys = clientAuthKeys(client.id, read.source);
  const event: RefusalEvent = { type: 'token.revoke', requestId: rid, source: read.source ?? 'unknown', credential: 'client secret', target: 'token:?', fallbackReason: 'invalid client credentials' };
  try {
    d.limiter?.check(keys.check);
    await d.verifyClient(client.id, client.secret, rid);
  } catch (err) {
    if (isMeziteError(err, 'Unauthenticated')) {
      await d.limiter?.fail(keys.fail);
      await d.refusals.refused(event, err);
    } else if (isMeziteError(err, 'ResourceExhausted')) await d.refusals.rateLimited(event, { details: { client_id: client.id.slice(0, 64) } });
    return mapError(err, client.basic, d.log, read.requestId);
  }
  try {
    const info = await d.apiTokens.verify(token, rid);
    const svc = await d.services.getByClientId(client.id);
    if (svc && info.identityKind === 'service' && info.identityId === svc.id) {
      await audited(
        { audit: d.audit, log: d.log },
        { tenantId: info.tenantId, type: 'token.revoke', actor: `service:${svc.id}`, target: `token:${info.id}`, requestId: rid, details: { via: 'oauth2' } },
        () => d.apiTokens.delete({ tenantId: info.tenantId, identityId: info.identityId, id: info.id, requestId: rid }),
      );
    } else {
      // RFC 7009: answered like an unknown token. Another client's token is not named to this one's tenant.
      await d.refusals.refused(event, refused('', "not the client's own token", { ...(svc ? { tenantId: svc.tenantId, actor: `service:${svc.id}` } : {}) }));
    }
  } catch (err) {
    if (!isMeziteError(err, 'Unauthenticated')) return mapError(err, client.basic, d.log, read.requestId);
    await d.refusals.refused({ ...event, credential: 'token to revoke', fallbackReason: 'unknown token' }, err);
  }
  return { status: 200, body: {} };
}

/** POST /oauth2/introspect — RFC 7662, for callers with a bearer credential allowed to introspect. */
export async function introspectionEndpoint(req: IncomingMessage, d: OAuth2Deps, read: ReadRequest): Promise<Reply> {
  const bearer = /^Bearer (\S{1,512})$/.exec(req.headers.authorization ?? '')?.[1];
  const rid = read.requestId;
  const event: RefusalEvent = { type: 'token.introspect', requestId: rid, source: read.source ?? 'unknown', credential: bearer ? 'bearer' : 'none', target: 'token:?', fallbackReason: 'no bearer credential' };
  let caller: { actor: string; tenantId: string; allowed: boolean } | undefined;
  if (bearer) {
    try {
      caller = await d.canIntrospect(bearer, read.source, rid, req.headers['user-agent']);
    } catch (err) {
      // A refused bearer was audited where it was refused (auth.authenticate).
      if (isMeziteError(err, 'ResourceExhausted')) return oauthError(429, 'slow_down', (err as Error).message);
      if (!isMeziteError(err, 'Unauthenticated')) return mapError(err, false, d.log, rid);
      caller = undefined;
    }
    if (caller && !caller.allowed) await d.refusals.refused(event, refused('', 'not an admin', { tenantId: caller.tenantId, actor: caller.actor }));
  } else await d.refusals.refused(event, undefined);
  if (!caller?.allowed) {
    return oauthError(401, 'invalid_token', 'introspection needs an authorized bearer credential', { 'www-authenticate': 'Bearer realm="mezite"' });
  }
  const form = readForm(req, read.body);
  if (isReply(form)) return form;
  const token = form.get('token');
  if (!token) return oauthError(400, 'invalid_request', 'token is required');
  // The answer goes out only once its record is written (fail closed).
  const record = (target: string, active: boolean, tenantId: string) =>
    d.audit.record({ tenantId, type: 'token.introspect', actor: caller.actor, target, result: 'success', requestId: rid, details: { active: String(active) } });
  try {
    const t = await d.apiTokens.verify(token, rid).catch(async (err: unknown) => {
      if (isMeziteError(err, 'Unauthenticated')) await record('token:?', false, caller.tenantId);
      throw err;
    });
    await record(`token:${t.id}`, true, caller.tenantId);
    return {
      status: 200,
      body: {
        active: true,
        token_type: 'Bearer',
        sub: `${t.identityKind}:${t.identityId}`,
        tenant: t.tenantId,
        iat: Math.floor(t.createdAt.getTime() / 1000),
        exp: Math.floor((t.rotationDeadline && t.rotationDeadline < t.expiresAt ? t.rotationDeadline : t.expiresAt).getTime() / 1000),
        jti: t.id,
        env: t.env,
      },
    };
  } catch (err) {
    if (isMeziteError(err, 'Unauthenticated')) return { status: 200, body: { active: false } };
    return mapError(err, false, d.log, read.requestId);
  }
}

/** GET /.well-known/oauth-authorization-server — RFC 8414 metadata. */
export function metadata(d: OAuth2Deps): Reply {
  const iss = d.issuer();
  return {
    status: 200,
    body: {
      issuer: iss,
      token_endpoint: `${iss}/oauth2/token`,
      revocation_endpoint: `${iss}/oauth2/revoke`,
      introspection_endpoint: `${iss}/oauth2/introspect`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['bearer'],
      response_types_supported: [],
      service_documentation: 'https://github.com/mezite/mezite/tree/main/docs',
    },
  };
}

/** Writes a Reply as JSON with the no-store headers RFC 6749 §5.1 asks for. */
export function send(res: ServerResponse, r: Reply): void {
  res.writeHead(r.status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...r.headers });
  res.end(JSON.stringify(r.body));
}

/** A value from the request, cut to be named in an `error_description` (oauthError keeps it to RFC 6749's characters). */
function echo(value: string): string {
  return value.slice(0, 40);
}
