import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** A signing key of the test issuer. */
interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

/** What a minted token says, beyond GitHub's defaults. */
export type Claims = Record<string, unknown>;

/**
 * A test OIDC issuer on 127.0.0.1 (no internet): discovery, JWKS, and GitHub's runner
 * protocol (`ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN`), minting RS256 tokens with the
 * claim shapes of GitHub Actions (design/reference/join-methods.md §1). `down` makes
 * the JWKS endpoint answer 503, to prove a join fails closed.
 */
export class TestOidcIssuer {
  /** The JWKS endpoint answers 503 while set. */
  down = false;
  /** How many times the JWKS was fetched. */
  jwksFetches = 0;
  /** The claims the runner endpoint mints with (the "job"). */
  job: Claims = {};
  private keys: Key[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** The runner endpoint's bearer. */
    readonly requestToken: string,
  ) {}

  static async start(): Promise<TestOidcIssuer> {
    let self: TestOidcIssuer | undefined;
    const server = createServer((req, res) => void self?.handle(req.url ?? '/', req.headers.authorization ?? '', res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    self = new TestOidcIssuer(server, `http://127.0.0.1:${port}`, `req-${randomUUID()}`);
    await self.rotate();
    return self;
  }

  /** Adds a new signing key (the newest signs); old keys stay published unless `dropOld`. */
  async rotate(dropOld = false): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID();
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    this.keys = dropOld ? [{ kid, privateKey, jwk }] : [...this.keys, { kid, privateKey, jwk }];
    return kid;
  }

  /** The published JWKS document. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.jwk) };
  }

  /** GitHub Actions claims for a push to main of octo-org/octo-repo, with `over` applied (`undefined` removes a claim). */
  githubClaims(over: Claims = {}): Claims {
    const now = Math.floor(Date.now() / 1000);
    const base: Claims = {
      jti: randomUUID(),
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
    const out: Claims = { ...base, ...over };
    for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
    return out;
  }

  /** GitLab CI `id_tokens` claims of a push to main of my-group/my-project (reference §2), with `over` applied. */
  gitlabClaims(over: Claims = {}): Claims {
    const now = Math.floor(Date.now() / 1000);
    return this.applied({
      iss: this.url, sub: 'project_path:my-group/my-project:ref_type:branch:ref:main', aud: 'https://vault.example.com', jti: randomUUID(), iat: now, nbf: now - 5, exp: now + 3600,
      namespace_id: '72', namespace_path: 'my-group', project_id: '20', project_path: 'my-group/my-project', project_visibility: 'private',
      user_id: '1', user_login: 'sample-user', user_email: 'sample-user@example.com', user_access_level: 'owner', pipeline_id: '574', pipeline_source: 'push', job_id: '302',
      ref: 'main', ref_type: 'branch', ref_path: 'refs/heads/main', ref_protected: 'true', runner_id: 1, runner_environment: 'gitlab-hosted', sha: 'c'.repeat(40),
      ci_config_ref_uri: 'gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main', ci_config_sha: 'c'.repeat(40),
    }, over);
  }

  /** A pod-bound projected service-account token of `ns`:`sa` (reference §3), with `over` applied. */
  kubernetesClaims(ns: string, sa: string, over: Claims = {}): Claims {
    const now = Math.floor(Date.now() / 1000);
    return this.applied({
      iss: this.url, sub: `system:serviceaccount:${ns}:${sa}`, aud: ['https://kubernetes.default.svc.cluster.local'], iat: now, nbf: now, exp: now + 3600, jti: randomUUID(),
      'kubernetes.io': { namespace: ns, serviceaccount: { name: sa, uid: randomUUID() }, pod: { name: `${sa}-7d9f8-abcde`, uid: randomUUID() }, node: { name: 'node-1', uid: randomUUID() } },
    }, over);
  }

  private applied(base: Claims, over: Claims): Claims {
    const out: Claims = { ...base, ...over };
    for (const [k, v] of Object.entries(out)) if (v === undefined) delete out[k];
    return out;
  }

  /** Signs claims as a JWT with the newest key (or `kid`'s); `header` overrides the JOSE header. */
  async mint(claims: Claims, o: { kid?: string; header?: Record<string, unknown> } = {}): Promise<string> {
    const key = o.kid ? this.keys.find((k) => k.kid === o.kid) : this.keys[this.keys.length - 1];
    if (!key) throw new Error('no such key');
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...o.header } as never).sign(key.privateKey);
  }

  /** The environment a GitHub Actions job with `permissions: id-token: write` has. */
  actionsEnv(): Record<string, string> {
    return { GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: `${this.url}/_apis/idtoken?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: this.requestToken };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(path: string, auth: string, res: import('node:http').ServerResponse): Promise<void> {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const u = new URL(path, this.url);
    if (u.pathname === '/.well-known/openid-configuration') return send(200, { issuer: this.url, jwks_uri: `${this.url}/.well-known/jwks`, id_token_signing_alg_values_supported: ['RS256'], claims_supported: Object.keys(this.githubClaims()) });
    if (u.pathname === '/.well-known/jwks') {
      this.jwksFetches++;
      return this.down ? send(503, { error: 'down' }) : send(200, this.jwks());
    }
    if (u.pathname === '/_apis/idtoken') {
      if (!/^bearer /i.test(auth) || auth.slice(7) !== this.requestToken) return send(401, { message: 'bad request token' });
      const aud = u.searchParams.get('audience') ?? 'https://github.com/octo-org';
      return send(200, { value: await this.mint(this.githubClaims({ ...this.job, aud })) });
    }
    send(404, { error: 'not found' });
  }
}
