import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveChild } from '../child';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The peer of row 5: the `oidc-provider` package (what the e2e tests use as an external
 * OAuth2 server) with the client_credentials grant and the same client id and secret
 * as the auth-server's demo service identity, on 127.0.0.1, in a process of its own.
 * Its default adapter keeps tokens in memory (an LRU): it writes nothing durable,
 * where the auth-server stores every token (as a keyed hash) and audits every issue.
 */
async function start(p: { clientId: string; clientSecret: string }): Promise<{ url: string }> {
  let handler: Handler = (_req, res) => void res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // ESM-only: loaded with import(), which TypeScript keeps as is in CommonJS output.
  const { default: Provider } = await import('oidc-provider');
  const provider = new Provider(issuer, {
    clients: [{ client_id: p.clientId, client_secret: p.clientSecret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' }],
    features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    ttl: { ClientCredentials: 600 },
  });
  handler = provider.callback() as Handler;
  return { url: `${issuer}/token` };
}

serveChild({ start });
