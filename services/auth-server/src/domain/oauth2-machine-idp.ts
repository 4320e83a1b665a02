import { requireSecureUrl, unauthenticated, unavailable } from '@mezite/identity';
import type { MachineIdentityProvider } from './machine-idp';

/**
 * An external OAuth2 server as a tenant's machine identity provider: the auth-server
 * runs the client_credentials grant (RFC 6749 §4.4, client_secret_basic) against its
 * token endpoint with the caller's credentials, and accepts them only if the server
 * issues a bearer access token. The external token itself is not handed out: Mezite
 * issues its own API token.
 */
export class OAuth2MachineIdp implements MachineIdentityProvider {
  constructor(private readonly o: { tokenEndpoint: string; scope?: string; timeoutMs?: number }) {}

  async verify(clientId: string, clientSecret: string): Promise<void> {
    // Configuration refuses such an endpoint; this holds for one stored before it did.
    try {
      requireSecureUrl(this.o.tokenEndpoint, 'token_endpoint');
    } catch {
      throw unavailable("the tenant's machine identity provider is not reachable over https; client secrets are never sent in cleartext");
    }
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.o.scope) body.set('scope', this.o.scope);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    let res: Response;
    try {
      res = await fetch(this.o.tokenEndpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
      });
    } catch (err) {
      throw unavailable('the tenant\'s machine identity provider is unavailable', { cause: err });
    }
    if (res.status >= 500) throw unavailable(`the tenant's machine identity provider failed (HTTP ${res.status})`);
    if (res.status !== 200) throw unauthenticated('invalid client credentials');
    let doc: { access_token?: unknown; token_type?: unknown };
    try {
      doc = (await res.json()) as { access_token?: unknown; token_type?: unknown };
    } catch (err) {
      throw unavailable('the tenant\'s machine identity provider answered with invalid JSON', { cause: err });
    }
    if (typeof doc.access_token !== 'string' || doc.access_token === '' || typeof doc.token_type !== 'string' || doc.token_type.toLowerCase() !== 'bearer') {
      throw unavailable('the tenant\'s machine identity provider answered without a bearer access token');
    }
  }
}
