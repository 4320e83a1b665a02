import { matchAllowRules } from '@mezite/identity';
import { refused } from '../refusal';
import { INVALID_JOIN, type IdTokenVerifier } from './id-token-verifier';
import type { JoinAttempt, JoinMethod, JoinResource, VerifiedJoin } from './join-method';
import { checkIdTokenResource } from './settings';

/** A rule names the workload as `NAMESPACE:SERVICEACCOUNT`. */
export const KUBERNETES_RULE_FIELDS = ['service_account'] as const;
const SETTINGS = ['issuer', 'static_jwks'];
/** Kubelet refreshes a projected token at 80 % of its life (1 h by default); one older than 2 h is refused. */
const MAX_AGE_S = 2 * 3600;
const SA = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

/**
 * The `kubernetes` method: a pod proves its namespace and service account with a
 * projected service-account token whose audience is the resource's. Settings
 * (`spec.kubernetes`): `issuer` (required: the cluster's `--service-account-issuer`; its
 * discovery must be reachable over https), `static_jwks` (the output of `kubectl get
 * --raw /openid/v1/jwks`, for clusters whose issuer the auth server cannot reach). Only
 * pod-bound tokens are accepted (a token of a Secret outlives any pod).
 */
export class KubernetesJoinMethod implements JoinMethod {
  readonly name = 'kubernetes';
  constructor(private readonly verifier: IdTokenVerifier) {}

  checkResource(r: Pick<JoinResource, 'allow' | 'options'>): void {
    checkIdTokenResource('kubernetes', r, { settings: SETTINGS, issuer: r.options.issuer ?? '', fields: KUBERNETES_RULE_FIELDS, anchors: KUBERNETES_RULE_FIELDS });
  }

  async verify(a: JoinAttempt): Promise<VerifiedJoin> {
    const issuer = a.resource.options.issuer ?? '';
    const claims = await this.verifier.verify(a.credential, { issuer, staticJwks: a.resource.options.static_jwks }, { audience: a.audience, now: a.now, maxTokenAgeS: MAX_AGE_S });
    const who = { tenantId: a.resource.tenantId, target: `bot:${a.resource.botName}`, details: { join_token: a.resource.name, sub: String(claims.sub).slice(0, 200) } };
    const m = SA.exec(typeof claims.sub === 'string' ? claims.sub : '');
    const k8s = (claims['kubernetes.io'] ?? {}) as { namespace?: unknown; pod?: { name?: unknown } };
    if (!m || k8s.namespace !== m[1]) throw refused(INVALID_JOIN, 'not a service-account token', who);
    if (typeof k8s.pod?.name !== 'string') throw refused(INVALID_JOIN, 'not a pod-bound token', who);
    const serviceAccount = `${m[1]}:${m[3]}`;
    const details = { service_account: serviceAccount, pod: k8s.pod.name.slice(0, 200) };
    const verdict = matchAllowRules(a.resource.allow, { service_account: serviceAccount });
    if (!verdict.allowed) throw refused(INVALID_JOIN, 'no allow rule matched', { ...who, details: { ...who.details, ...details, mismatches: verdict.verdicts.map((v) => `rule ${v.index}: ${v.mismatches.join('; ')}`).join(' | ').slice(0, 1000) } });
    return { issuer, jti: claims.jti as string, expiresAt: new Date((claims.exp as number) * 1000), details };
  }
}
