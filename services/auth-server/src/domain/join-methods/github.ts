import { invalidArgument, matchAllowRules } from '@mezite/identity';
import { refused } from '../refusal';
import { INVALID_JOIN, type IdTokenVerifier } from './id-token-verifier';
import { checkIdTokenResource } from './settings';
import type { JoinAttempt, JoinMethod, JoinResource, VerifiedJoin } from './join-method';

/** github.com's issuer of Actions ID tokens. */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
/** The claims an allow rule may name (reference: GitHub's OIDC claims). */
export const GITHUB_RULE_FIELDS = ['sub', 'repository', 'repository_owner', 'workflow', 'job_workflow_ref', 'ref', 'ref_type', 'environment', 'actor'] as const;
/** A rule must pin one of these, or it would admit any repository on GitHub. */
const ANCHORS = ['sub', 'repository', 'repository_owner'];
const SETTINGS = ['issuer', 'enterprise_server_host', 'static_jwks'];
/** GitHub's tokens live 5 minutes; an older `iat` is refused whatever `exp` says. */
const MAX_AGE_S = 15 * 60;
/** Claims copied into the join's audit record. */
const AUDITED = ['repository', 'ref', 'workflow', 'environment', 'actor', 'run_id', 'run_attempt', 'sha', 'event_name', 'sub'];

/** The issuer a resource's tokens must come from: an override, a GHES host, or github.com. */
export function githubIssuer(options: Record<string, string>): string {
  if (options.issuer) return options.issuer.replace(/\/$/, '');
  if (options.enterprise_server_host) return `https://${options.enterprise_server_host}/_services/token`;
  return GITHUB_ISSUER;
}

/**
 * The `github` method: a GitHub Actions job proves its repository, workflow, ref and
 * environment with the ID token its runner mints (`permissions: id-token: write`).
 * Settings (`spec.github`): `issuer` (GHE Cloud enterprise slug, tests),
 * `enterprise_server_host` (GHES: `https://HOST/_services/token`), `static_jwks`
 * (air-gapped GHES: the JWKS document; `iss` is still checked).
 */
export class GithubJoinMethod implements JoinMethod {
  readonly name = 'github';
  constructor(private readonly verifier: IdTokenVerifier) {}

  checkResource(r: Pick<JoinResource, 'allow' | 'options'>): void {
    if (r.options.issuer && r.options.enterprise_server_host) throw invalidArgument('spec.github: set issuer or enterprise_server_host, not both');
    if (r.options.enterprise_server_host && !/^[a-z0-9.-]+(:\d+)?$/i.test(r.options.enterprise_server_host)) throw invalidArgument('spec.github.enterprise_server_host: expected a host name such as github.example.com');
    checkIdTokenResource('github', r, { settings: SETTINGS, issuer: githubIssuer(r.options), fields: GITHUB_RULE_FIELDS, anchors: ANCHORS });
  }

  async verify(a: JoinAttempt): Promise<VerifiedJoin> {
    const issuer = githubIssuer(a.resource.options);
    const claims = await this.verifier.verify(a.credential, { issuer, staticJwks: a.resource.options.static_jwks }, { audience: a.audience, now: a.now, maxTokenAgeS: MAX_AGE_S });
    const details: Record<string, string> = {};
    for (const k of AUDITED) if (typeof claims[k] === 'string') details[k] = (claims[k] as string).slice(0, 200);
    const m = matchAllowRules(a.resource.allow, claims);
    if (!m.allowed) {
      // Which rule failed on which claim: for the audit log only.
      const why = m.verdicts.map((v) => `rule ${v.index}: ${v.mismatches.join('; ')}`).join(' | ').slice(0, 1000);
      throw refused(INVALID_JOIN, 'no allow rule matched', { tenantId: a.resource.tenantId, target: `bot:${a.resource.botName}`, details: { ...details, join_token: a.resource.name, mismatches: why } });
    }
    return { issuer, jti: claims.jti as string, expiresAt: new Date((claims.exp as number) * 1000), details: { ...details, rule: String(m.verdicts.find((v) => v.matched)?.index ?? 0) } };
  }
}
