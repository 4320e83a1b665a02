import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Provider, { type Configuration } from 'oidc-provider';
import { ensureDevOidcKeys } from './dev-oidc-keys';
import { consentPage, errorPage, loginPage } from './dev-oidc-pages';

/** The one person the development provider knows (fixture values, never real secrets). */
export const DEV_USER = { sub: 'demo', email: 'demo@mezite.dev', password: 'demo', name: 'Demo User', preferredUsername: 'demo' } as const;
/** The public client `mezctl login` uses. */
export const DEV_CLIENT_ID = 'mezctl';
/** The `acr` of a password sign-in here; `amr` is `["pwd"]` (RFC 8176). */
export const DEV_ACR = 'urn:mezite:acr:password';

/** Options of startDevOidcProvider. */
export interface DevOidcOptions {
  /** Where to listen (`127.0.0.1:5556`); port 0 picks a free one. */
  host: string;
  port: number;
  /** The issuer URL; default `http://<host>:<port>` with the port actually bound. */
  issuer?: string;
  /** File holding the signing and cookie keys (created on first start). */
  keysFile: string;
  /** One line per notable event (a refused sign-in, a provider error). */
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A running development provider. */
export interface DevOidcProvider {
  issuer: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A development OpenID Provider (npm `oidc-provider`) standing in for the tenant's
 * human identity provider in the quickstart, as Dex does in seed 000's demo stack:
 * authorization code with PKCE for the public client `mezctl` on any loopback
 * redirect port (RFC 8252 §7.3, `application_type: native`), one user with a
 * password, `acr` and `amr` in the ID token. Its own login and consent pages replace
 * the package's devInteractions, which accept any login and set no `amr`.
 */
export async function startDevOidcProvider(o: DevOidcOptions): Promise<DevOidcProvider> {
  const log = o.log ?? (() => undefined);
  const keys = ensureDevOidcKeys(o.keysFile);

  // The issuer names the port, so listen first and install the handler after.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.writeHead(503).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const issuer = o.issuer ?? `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;

  const configuration: Configuration = {
    clients: [
      {
        client_id: DEV_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    // PKCE is required for clients without authentication (oidc-provider's default); S256 only.
    pkce: { required: () => true },
    responseTypes: ['code'],
    scopes: ['openid', 'email', 'profile'],
    // acr and amr ride on the openid scope: oidc-provider puts a standalone claim in the
    // ID token only when the client asks for it (acr_values, claims parameter).
    claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], sid: null, iss: null },
    // Email and profile claims in the ID token itself, as Dex puts them: the relying party reads only the ID token.
    conformIdTokenClaims: false,
    acrValues: [DEV_ACR],
    jwks: keys.jwks as unknown as NonNullable<Configuration['jwks']>,
    cookies: { keys: keys.cookieKeys },
    features: { devInteractions: { enabled: false } },
    // Seconds. ID tokens are exchanged for a Mezite session at once, so they need not live long.
    ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 600, Session: 8 * 3600, Grant: 14 * 24 * 3600 },
    findAccount: (_ctx, id) => (id === DEV_USER.sub ? { accountId: id, claims: () => ({ sub: id, email: DEV_USER.email, email_verified: true, name: DEV_USER.name, preferred_username: DEV_USER.preferredUsername }) } : undefined),
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage({ ...out });
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx, err) => log('provider error', { error: err.message }));
  const callback = provider.callback();
  handler = (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    if (!path.startsWith('/interaction/')) return void callback(req, res);
    interaction(provider, req, res, path, log).catch((err: unknown) => {
      log('interaction failed', { error: (err as Error).message });
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(errorPage({ error: 'invalid_request', error_description: 'this sign-in has expired or is unknown; start again from mezctl login' }));
    });
  };

  return {
    issuer,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The login and consent steps: GET shows the page, POST `…/login`, `…/confirm` or `…/abort` answers it. */
async function interaction(provider: Provider, req: IncomingMessage, res: ServerResponse, path: string, log: (msg: string, fields?: Record<string, unknown>) => void): Promise<void> {
  const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(path);
  if (!m) return void res.writeHead(404).end();
  const [, uid, action] = m as unknown as [string, string, string | undefined];
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const html = (status: number, body: string) => void res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body);

  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') return html(200, loginPage(uid, String(details.params.login_hint ?? '')));
    return html(200, consentPage(uid, String(details.params.client_id), String(details.params.scope ?? '')));
  }
  if (req.method !== 'POST' || !action) return void res.writeHead(405).end();
  const form = await readForm(req);

  if (action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the sign-in' }, { mergeWithLastSubmission: false });
  }
  if (action === 'login') {
    if (details.prompt.name !== 'login') throw new Error('not at the login step');
    const email = form.get('email') ?? '';
    if (!sameText(email, DEV_USER.email) || !sameText(form.get('password') ?? '', DEV_USER.password)) {
      log('sign-in refused', { email: email.slice(0, 100) });
      return html(401, loginPage(uid, email, 'Invalid email or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: DEV_USER.sub, acr: DEV_ACR, amr: ['pwd'], remember: false } }, { mergeWithLastSubmission: false });
  }
  // confirm: grant what the client asked for.
  if (details.prompt.name !== 'consent') throw new Error('not at the consent step');
  const accountId = details.session?.accountId;
  if (!accountId) throw new Error('no signed-in account');
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
  if (!grant) throw new Error('grant not found');
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

/** An `application/x-www-form-urlencoded` body of at most 16 KiB. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 16_384) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
