import { invalidArgument, type AllowRule } from '@mezite/identity';
import { checkIssuerUrl } from './id-token-verifier';

/**
 * What every ID-token method checks of a resource: only its known settings, an https
 * issuer, a static JWKS that is a JWKS, at least one rule, rules naming only the
 * method's claims, and each rule pinning one of `anchors` (or it would admit every
 * project or workload of the platform).
 */
export function checkIdTokenResource(method: string, r: { allow: AllowRule[]; options: Record<string, string> }, o: { settings: string[]; issuer: string; fields: readonly string[]; anchors: readonly string[] }): void {
  for (const k of Object.keys(r.options)) if (!o.settings.includes(k)) throw invalidArgument(`spec.${method}.${k}: unknown setting; expected one of ${o.settings.join(', ')}`);
  try {
    checkIssuerUrl(o.issuer, `spec.${method}.issuer`);
  } catch (err) {
    throw invalidArgument((err as Error).message);
  }
  if (r.options.static_jwks !== undefined) {
    let keys: unknown;
    try {
      keys = (JSON.parse(r.options.static_jwks) as { keys?: unknown }).keys;
    } catch {
      throw invalidArgument(`spec.${method}.static_jwks: not a JSON document`);
    }
    if (!Array.isArray(keys) || keys.length === 0) throw invalidArgument(`spec.${method}.static_jwks: expected a JWKS ({"keys": [...]}) with at least one key`);
    keys.forEach((k: unknown, i) => {
      const why = publicKeyProblem(k);
      if (why) throw invalidArgument(`spec.${method}.static_jwks: not a valid JWKS: key ${i} ${why}`);
    });
  }
  if (r.allow.length === 0) throw invalidArgument(`spec.allow: at least one rule is required (a ${method} join without rules would admit anyone)`);
  r.allow.forEach((rule, i) => {
    for (const k of Object.keys(rule)) if (!o.fields.includes(k)) throw invalidArgument(`spec.allow[${i}].${k}: not a ${method} claim a rule can name; expected one of ${o.fields.join(', ')}`);
    if (!o.anchors.some((a) => rule[a] !== undefined)) throw invalidArgument(`spec.allow[${i}]: name at least one of ${o.anchors.join(', ')}`);
  });
}

/** The claims an audit record keeps, as bounded strings. */
export function auditedClaims(claims: Record<string, unknown>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (typeof claims[k] === 'string') out[k] = (claims[k] as string).slice(0, 200);
  return out;
}

/** Why a JWK is not a public signing key jose can verify with, or undefined. */
function publicKeyProblem(k: unknown): string | undefined {
  if (!k || typeof k !== 'object' || Array.isArray(k)) return 'is not an object';
  const j = k as Record<string, unknown>;
  if (j.d !== undefined || j.p !== undefined || j.k !== undefined) return 'holds private or secret key material: paste the public keys only';
  const str = (...names: string[]) => names.every((n) => typeof j[n] === 'string' && (j[n] as string).length > 0);
  if (j.kty === 'RSA') return str('n', 'e') ? undefined : 'needs n and e';
  if (j.kty === 'EC') return str('crv', 'x', 'y') ? undefined : 'needs crv, x and y';
  if (j.kty === 'OKP') return str('crv', 'x') ? undefined : 'needs crv and x';
  return `has kty ${JSON.stringify(j.kty)}; expected RSA, EC or OKP`;
}
