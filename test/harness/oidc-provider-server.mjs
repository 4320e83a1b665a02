// A real OAuth2 authorization server for end-to-end tests: oidc-provider (ESM-only, so
// it runs in a process of its own rather than inside jest) with the client_credentials
// grant and one confidential client. It binds 127.0.0.1 on a free port and prints one
// JSON line `{"issuer":…,"port":…}` on stdout once it accepts connections. SIGTERM stops it.
//
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET (the one client, client_secret_basic).
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.OIDC_CLIENT_ID;
const clientSecret = process.env.OIDC_CLIENT_SECRET;
if (!clientId || !clientSecret) {
  process.stderr.write('oidc-provider-server: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are required\n');
  process.exit(2);
}

// The issuer names the port, so listen first and install the provider's handler after.
let handler = (_req, res) => {
  res.writeHead(503).end();
};
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
  },
});
// oidc-provider logs refused clients as server-side events; keep them on stderr for the test's log.
provider.on('grant.error', (_ctx, err) => process.stderr.write(`grant.error: ${err.message}\n`));
handler = provider.callback();

process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
