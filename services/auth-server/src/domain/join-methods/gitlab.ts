import { matchAllowRules } from '@mezite/identity';
import { refused } from '../refusal';
import { INVALID_JOIN, type IdTokenVerifier } from './id-token-verifier';
import type { JoinAttempt, JoinMethod, JoinResource, VerifiedJoin } from './join-method';
import { auditedClaims, checkIdTokenResource } from './settings';

/** The claims a `gitlab` rule may name (reference: GitLab CI `id_tokens`). */
export const GITLAB_RULE_FIELDS = ['sub', 'project_path', 'namespace_path', 'ref', 'ref_type', 'ref_protected', 'environment', 'pipeline_source'] as const;
const ANCHORS = ['sub', 'project_path', 'namespace_path'];
const SETTINGS = ['domain', 'static_jwks'];
/** A GitLab token lives as long as the job may (up to hours); an `iat` older than a day is refused whatever `exp` says. */
const MAX_AGE_S = 24 * 3600;
const AUDITED = ['project_path', 'ref', 'ref_type', 'environment', 'pipeline_source', 'pipeline_id', 'job_id', 'user_login', 'sha', 'sub'];

/** The issuer of a resource's tokens: `https://<domain>` (default gitlab.com; a self-managed instance names its own). */
export function gitlabIssuer(options: Record<string, string>): string {
  const d = options.domain ?? 'gitlab.com';
  return /^https?:\/\//.test(d) ? d.replace(/\/$/, '') : `https://${d}`;
}

/**
 * The `gitlab` method: a GitLab CI job proves its project, ref and environment with an
 * `id_tokens` JWT (in the environment variable the job names). Settings (`spec.gitlab`):
 * `domain` (self-managed: `gitlab.example.com`, or a full URL), `static_jwks`.
 */
export class GitlabJoinMethod implements JoinMethod {
  readonly name = 'gitlab';
  constructor(private readonly verifier: IdTokenVerifier) {}

  checkResource(r: Pick<JoinResource, 'allow' | 'options'>): void {
    checkIdTokenResource('gitlab', r, { settings: SETTINGS, issuer: gitlabIssuer(r.options), fields: GITLAB_RULE_FIELDS, anchors: ANCHORS });
  }

  async verify(a: JoinAttempt): Promise<VerifiedJoin> {
    const issuer = gitlabIssuer(a.resource.options);
    const claims = await this.verifier.verify(a.credential, { issuer, staticJwks: a.resource.options.static_jwks }, { audience: a.audience, now: a.now, maxTokenAgeS: MAX_AGE_S });
    const details = auditedClaims(claims, AUDITED);
    const m = matchAllowRules(a.resource.allow, claims);
    if (!m.allowed) {
      const why = m.verdicts.map((v) => `rule ${v.index}: ${v.mismatches.join('; ')}`).join(' | ').slice(0, 1000);
      throw refused(INVALID_JOIN, 'no allow rule matched', { tenantId: a.resource.tenantId, target: `bot:${a.resource.botName}`, details: { ...details, join_token: a.resource.name, mismatches: why } });
    }
    return { issuer, jti: claims.jti as string, expiresAt: new Date((claims.exp as number) * 1000), details: { ...details, rule: String(m.verdicts.find((v) => v.matched)?.index ?? 0) } };
  }
}
