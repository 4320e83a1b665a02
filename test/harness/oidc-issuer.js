"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.TestOidcIssuer = void 0;
const node_crypto_1 = require("node:crypto");
const node_http_1 = require("node:http");
const jose_1 = require("jose");
/**
 * A test OIDC issuer on 127.0.0.1 (no internet): discovery, JWKS, and GitHub's runner
 * protocol (`ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN`), minting RS256 tokens with the
 * claim shapes of GitHub Actions (design/reference/join-methods.md §1). `down` makes
 * the JWKS endpoint answer 503, to prove a join fails closed.
 */
class TestOidcIssuer {
    server;
    url;
    requestToken;
    /** The JWKS endpoint answers 503 while set. */
    down = false;
    /** How many times the JWKS was fetched. */
    jwksFetches = 0;
    /** The claims the runner endpoint mints with (the "job"). */
    job = {};
    keys = [];
    constructor(server, url, 
    /** The runner endpoint's bearer. */
    requestToken) {
        this.server = server;
        this.url = url;
        this.requestToken = requestToken;
    }
    static async start() {
        let self;
        const server = (0, node_http_1.createServer)((req, res) => void self?.handle(req.url ?? '/', req.headers.authorization ?? '', res));
        await new Promise((r) => server.listen(0, '127.0.0.1', r));
        const port = server.address().port;
        self = new TestOidcIssuer(server, `http://127.0.0.1:${port}`, `req-${(0, node_crypto_1.randomUUID)()}`);
        await self.rotate();
        return self;
    }
    /** Adds a new signing key (the newest signs); old keys stay published unless `dropOld`. */
    async rotate(dropOld = false) {
        const { privateKey, publicKey } = await (0, jose_1.generateKeyPair)('RS256', { extractable: true });
        const kid = (0, node_crypto_1.randomUUID)();
        const jwk = { ...(await (0, jose_1.exportJWK)(publicKey)), kid, alg: 'RS256', use: 'sig' };
        this.keys = dropOld ? [{ kid, privateKey, jwk }] : [...this.keys, { kid, privateKey, jwk }];
        return kid;
    }
    /** The published JWKS document. */
    jwks() {
        return { keys: this.keys.map((k) => k.jwk) };
    }
    /** GitHub Actions claims for a push to main of octo-org/octo-repo, with `over` applied (`undefined` removes a claim). */
    githubClaims(over = {}) {
        const now = Math.floor(Date.now() / 1000);
        const base = {
            jti: (0, node_crypto_1.randomUUID)(),
            sub: 'repo:octo-org/octo-repo:ref:refs/heads/main',
            aud: 'https://github.com/octo-org',
            ref: 'refs/heads/main',
            sha: 'a'.repeat(40),
            repository: 'octo-org/octo-repo',
            repository_id: '74',
            repository_owner: 'octo-org',
            repository_owner_id: '65',
            repository_visibility: 'private',
            run_id: '18337179416',
            run_number: '10',
            run_attempt: '1',
            actor: 'octocat',
            actor_id: '12',
            workflow: 'CI',
            workflow_ref: 'octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main',
            workflow_sha: 'b'.repeat(40),
            job_workflow_ref: 'octo-org/octo-repo/.github/workflows/ci.yml@refs/heads/main',
            job_workflow_sha: 'b'.repeat(40),
            head_ref: '',
            base_ref: '',
            event_name: 'push',
            ref_type: 'branch',
            ref_protected: 'false',
            runner_environment: 'github-hosted',
            iss: this.url,
            nbf: now - 300,
            iat: now,
            exp: now + 300,
        };
        const out = { ...base, ...over };
        for (const [k, v] of Object.entries(out))
            if (v === undefined)
                delete out[k];
        return out;
    }
    /** Signs claims as a JWT with the newest key (or `kid`'s); `header` overrides the JOSE header. */
    async mint(claims, o = {}) {
        const key = o.kid ? this.keys.find((k) => k.kid === o.kid) : this.keys[this.keys.length - 1];
        if (!key)
            throw new Error('no such key');
        return new jose_1.SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...o.header }).sign(key.privateKey);
    }
    /** The environment a GitHub Actions job with `permissions: id-token: write` has. */
    actionsEnv() {
        return { GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: `${this.url}/_apis/idtoken?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: this.requestToken };
    }
    async stop() {
        this.server.closeAllConnections();
        await new Promise((r) => this.server.close(() => r()));
    }
    async handle(path, auth, res) {
        const send = (code, body) => {
            res.writeHead(code, { 'content-type': 'application/json' });
            res.end(JSON.stringify(body));
        };
        const u = new URL(path, this.url);
        if (u.pathname === '/.well-known/openid-configuration')
            return send(200, { issuer: this.url, jwks_uri: `${this.url}/.well-known/jwks`, id_token_signing_alg_values_supported: ['RS256'], claims_supported: Object.keys(this.githubClaims()) });
        if (u.pathname === '/.well-known/jwks') {
            this.jwksFetches++;
            return this.down ? send(503, { error: 'down' }) : send(200, this.jwks());
        }
        if (u.pathname === '/_apis/idtoken') {
            if (!/^bearer /i.test(auth) || auth.slice(7) !== this.requestToken)
                return send(401, { message: 'bad request token' });
            const aud = u.searchParams.get('audience') ?? 'https://github.com/octo-org';
            return send(200, { value: await this.mint(this.githubClaims({ ...this.job, aud })) });
        }
        send(404, { error: 'not found' });
    }
}
exports.TestOidcIssuer = TestOidcIssuer;
//# sourceMappingURL=oidc-issuer.js.map