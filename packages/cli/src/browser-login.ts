import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { deadlineExceeded, invalidArgument, oidcNonceFor, unauthenticated, unavailable } from '@mezite/identity';
import * as oauth from 'oauth4webapi';

/** Options of browserLogin. */
export interface BrowserLoginOptions {
  /** The provider's issuer, from GetLoginConfig. */
  issuer: string;
  /** The public client (no secret). */
  clientId: string;
  scopes: string[];
  /** Shows the person the URL to open. */
  show: (url: string) => void;
  /** Tries to open the URL in a browser; failures are ignored (the URL is shown anyway). */
  open?: (url: string) => void;
  /** How long to wait for the browser to come back; default 5 min. */
  timeoutMs?: number;
}

/** What the provider gave back: the ID token, and the secret its nonce was made from. */
export interface BrowserLoginResult {
  idToken: string;
  /** Sent to the auth server with the ID token: the token's nonce is its SHA-256, so the token alone is useless. */
  nonceSecret: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * OpenID Connect authorization code flow with PKCE (S256) for a native app (RFC 8252):
 * listens on 127.0.0.1 on a port the OS picks, sends the person's browser to the
 * provider with `redirect_uri=http://127.0.0.1:<port>/callback`, checks `state` (and
 * `iss`, RFC 9207) on the way back, redeems the code at the token endpoint and checks
 * the ID token's `nonce`, `iss`, `aud` and `exp` (the auth-server checks its signature
 * too). Plain http to the provider only on a loopback host (the development provider).
 */
export async function browserLogin(o: BrowserLoginOptions): Promise<BrowserLoginResult> {
  let issuer: URL;
  try {
    issuer = new URL(o.issuer);
  } catch {
    throw invalidArgument(`the auth server names an invalid issuer "${o.issuer}"`);
  }
  const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
  const opts = () => ({ signal: AbortSignal.timeout(15_000), ...(insecure ? { [oauth.allowInsecureRequests]: true } : {}) });
  const as = await step(`cannot read the identity provider's configuration at ${issuer.origin}`, async () => oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...opts(), algorithm: 'oidc' })));
  if (!as.authorization_endpoint) throw unavailable(`the identity provider at ${issuer.origin} has no authorization endpoint`);
  const client: oauth.Client = { client_id: o.clientId };

  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  // The provider sees only the hash; the secret goes to the auth server (oidcNonceFor).
  const nonceSecret = oauth.generateRandomNonce();
  const nonce = oidcNonceFor(nonceSecret);
  const callback = await listenForCallback(state, o.timeoutMs ?? 5 * 60_000);
  try {
    const url = new URL(as.authorization_endpoint);
    const params = {
      client_id: o.clientId,
      redirect_uri: callback.redirectUri,
      response_type: 'code',
      scope: o.scopes.join(' '),
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    o.show(url.href);
    o.open?.(url.href);

    const returned = await callback.params;
    let code: URLSearchParams;
    try {
      code = oauth.validateAuthResponse(as, client, returned, state);
    } catch (err) {
      if (err instanceof oauth.AuthorizationResponseError) throw unauthenticated(`the identity provider refused the sign-in: ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`, { cause: err });
      throw unauthenticated(`the identity provider's answer is not valid: ${(err as Error).message}`, { cause: err });
    }
    const tokens = await step('the identity provider did not issue an ID token', async () =>
      oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), code, callback.redirectUri, verifier, opts()), { expectedNonce: nonce, requireIdToken: true }),
    );
    if (!tokens.id_token) throw unauthenticated('the identity provider did not issue an ID token');
    return { idToken: tokens.id_token, nonceSecret };
  } finally {
    callback.close();
  }
}

/** Runs one exchange with the provider; its errors become one clear line. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) throw unauthenticated(`${what}: ${err.error}${err.error_description ? `: ${err.error_description}` : ''}`, { cause: err });
    const cause = (err as Error).cause as Error | undefined;
    if (err instanceof TypeError || (err as Error).name === 'TimeoutError') throw unavailable(`${what}: ${cause?.message ?? (err as Error).message}`, { cause: err });
    throw unauthenticated(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The loopback redirect target. Only `GET /callback` with our `state` counts; anything
 * else (a stray request, another tab) is answered and ignored, so it cannot end the
 * wait. Resolves with the callback's parameters; rejects after `timeoutMs`.
 */
async function listenForCallback(state: string, timeoutMs: number): Promise<{ redirectUri: string; params: Promise<URL>; close: () => void }> {
  let done: (u: URL) => void = () => undefined;
  let fail: (e: Error) => void = () => undefined;
  const params = new Promise<URL>((resolve, reject) => {
    done = resolve;
    fail = reject;
  });
  const page = (res: ServerResponse, status: number, text: string) =>
    void res
      .writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' })
      .end(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Mezite</title></head><body style="font-family:system-ui,sans-serif;margin:48px"><p>${text}</p></body></html>\n`);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/callback') return page(res, 404, 'Not found.');
    if (url.searchParams.get('state') !== state) return page(res, 400, 'This is not the sign-in mezctl is waiting for.');
    page(res, 200, url.searchParams.has('error') ? 'Sign-in failed; see the terminal.' : 'Signed in. You can close this window and return to the terminal.');
    done(url);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const timer = setTimeout(() => fail(deadlineExceeded(`no sign-in within ${Math.round(timeoutMs / 1000)} s; run mezctl login again`)), timeoutMs);
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    params,
    close: () => {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
    },
  };
}

/** Opens `url` in the desktop's browser, best effort; never throws. */
export function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? ['open', url] : process.platform === 'win32' ? ['cmd', '/c', 'start', '', url] : ['xdg-open', url];
  try {
    const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* no browser here: the URL is printed */
  }
}
