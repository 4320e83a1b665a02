import type { Principal } from '@mezite/identity';
import { unauthenticated } from '@mezite/identity';
import type { RequestContext } from '@mezite/platform';
import type { CallContext, ServerMiddlewareCall } from 'nice-grpc-common';

/** What handlers of the public port find in their call context. */
export interface AuthContext extends RequestContext {
  /** The authenticated caller; undefined when the call carried no credential. */
  principal?: Principal;
}

/**
 * Resolves a credential to its principal, for a call from `peer` (grpc-js's
 * `ipv4:…:port`, for the failure limiter) with `requestId` (for the audit record of a
 * refusal).
 */
export type Authenticator = (secret: string, peer: string | undefined, requestId: string, userAgent?: string) => Promise<Principal>;

/**
 * Authentication as middleware (STYLE.md §11): verify the bearer credential, then put
 * the principal in the call context. A call without a credential proceeds without a
 * principal (handlers that need one refuse it); a call with a bad one is refused here.
 */
export function authMiddleware(authenticate: Authenticator, certificate?: Authenticator) {
  return async function* middleware<Req, Res>(call: ServerMiddlewareCall<Req, Res, AuthContext>, context: CallContext & RequestContext) {
    const header = context.metadata.get('authorization');
    if (!header) return yield* call.next(call.request, context);
    // A bot's SSH certificate with a signature over the time (msh); longer than a bearer.
    const c = certificate && /^SshCert ([A-Za-z0-9_.-]{1,100000})$/.exec(header);
    if (c && certificate) {
      const principal = await certificate(c[1] as string, context.peer, context.requestId);
      return yield* call.next(call.request, { ...context, principal });
    }
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (!m) throw unauthenticated('malformed authorization header; expected "Bearer <credential>"');
    const ua = context.metadata.get('user-agent');
    const principal = await authenticate(m[1] as string, context.peer, context.requestId, typeof ua === 'string' ? ua : undefined);
    return yield* call.next(call.request, { ...context, principal });
  };
}
