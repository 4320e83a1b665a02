import { type JWK } from 'jose';
/** What a minted token says, beyond GitHub's defaults. */
export type Claims = Record<string, unknown>;
/**
 * A test OIDC issuer on 127.0.0.1 (no internet): discovery, JWKS, and GitHub's runner
 * protocol (`ACTIONS_ID_TOKEN_REQUEST_URL` / `_TOKEN`), minting RS256 tokens with the
 * claim shapes of GitHub Actions (design/reference/join-methods.md §1). `down` makes
 * the JWKS endpoint answer 503, to prove a join fails closed.
 */
export declare class TestOidcIssuer {
    private readonly server;
    readonly url: string;
    /** The runner endpoint's bearer. */
    readonly requestToken: string;
    /** The JWKS endpoint answers 503 while set. */
    down: boolean;
    /** How many times the JWKS was fetched. */
    jwksFetches: number;
    /** The claims the runner endpoint mints with (the "job"). */
    job: Claims;
    private keys;
    private constructor();
    static start(): Promise<TestOidcIssuer>;
    /** Adds a new signing key (the newest signs); old keys stay published unless `dropOld`. */
    rotate(dropOld?: boolean): Promise<string>;
    /** The published JWKS document. */
    jwks(): {
        keys: JWK[];
    };
    /** GitHub Actions claims for a push to main of octo-org/octo-repo, with `over` applied (`undefined` removes a claim). */
    githubClaims(over?: Claims): Claims;
    /** Signs claims as a JWT with the newest key (or `kid`'s); `header` overrides the JOSE header. */
    mint(claims: Claims, o?: {
        kid?: string;
        header?: Record<string, unknown>;
    }): Promise<string>;
    /** The environment a GitHub Actions job with `permissions: id-token: write` has. */
    actionsEnv(): Record<string, string>;
    stop(): Promise<void>;
    private handle;
}
//# sourceMappingURL=oidc-issuer.d.ts.map