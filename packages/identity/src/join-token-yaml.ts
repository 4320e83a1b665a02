import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { invalidArgument } from './errors';
import { validateName } from './names';

/** One allow rule of a delegated join: claim name → the value it must equal. */
export type AllowRule = Record<string, string>;

/**
 * A provision resource (`kind: join_token`) as written: which bot a machine joins as,
 * by which method, and what its platform's ID token must say. The method-specific part
 * (`spec.<method>`) is kept as plain data for the method to validate.
 */
export interface JoinTokenDocument {
  name: string;
  bot: string;
  joinMethod: string;
  allow: AllowRule[];
  /** The `aud` the machine must request; empty for the default (`joinAudience`). */
  audience: string;
  expiresAt: Date | null;
  /** `spec.<join_method>`: the method's own settings (issuer, static JWKS, …). */
  options: Record<string, string>;
}

/** At most this many allow rules, each of at most this many fields: a rule list is read on every join. */
export const MAX_ALLOW_RULES = 32;
const MAX_VALUE = 512;
const CLAIM = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * The audience a machine requests when the resource names none: `mezite:` and the join
 * reference (`TENANT/NAME`), so an ID token minted for one resource is useless at another.
 */
export function joinAudience(tenantDomain: string, name: string): string {
  return `mezite:${tenantDomain}/${name}`;
}

/**
 * Parses a `kind: join_token` document. Every error names the file, line and field;
 * unknown fields are refused (a typo in an allow rule must never widen it).
 */
export function parseJoinTokenYaml(text: string, file = 'token.yaml'): JoinTokenDocument {
  if (text.length > 256 * 1024) throw invalidArgument(`${file}: file too large (over 256 KiB)`);
  const lc = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    if (err instanceof RangeError) throw invalidArgument(`${file}:1: invalid YAML: the document is nested too deeply`);
    throw err;
  }
  const lineOf = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const fail = (n: Node | null | undefined, field: string, msg: string): never => {
    throw invalidArgument(`${file}:${lineOf(n)}: ${field}: ${msg}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw invalidArgument(`${file}:${e?.linePos?.[0]?.line ?? 1}: invalid YAML: ${e?.message.split('\n')[0] ?? 'parse error'}`);
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, '(document)', 'expected a mapping with kind, metadata and spec');
  const get = (m: YAMLMap, key: string) => m.items.find((p) => isScalar(p.key) && p.key.value === key);
  const only = (m: YAMLMap, path: string, allowed: string[]) => {
    for (const p of m.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '?';
      if (!allowed.includes(k)) fail(p.key as Node, path ? `${path}.${k}` : k, `unknown field; expected one of ${allowed.join(', ')}`);
    }
  };
  const map = (m: YAMLMap, key: string, path: string, required = false): YAMLMap | undefined => {
    const p = get(m, key);
    if (!p || p.value === null || (isScalar(p.value) && p.value.value === null)) {
      if (required) fail(m, path, 'is required');
      return undefined;
    }
    if (!isMap(p.value)) fail(p.value as Node, path, 'expected a mapping');
    return p.value as YAMLMap;
  };
  const scalarText = (n: unknown, path: string, max = MAX_VALUE): string => {
    if (!isScalar(n) || n.value === null || typeof n.value === 'object') return fail(n as Node, path, 'expected a string');
    const v = typeof n.value === 'string' ? n.value : (n.source ?? String(n.value));
    if (v.length > max) fail(n as Node, path, `longer than ${max} characters`);
    return v;
  };
  const str = (m: YAMLMap, key: string, path: string, required = false): string | undefined => {
    const p = get(m, key);
    if (!p || (isScalar(p.value) && p.value.value === null)) {
      if (required) fail(m, path, 'is required');
      return undefined;
    }
    return scalarText(p.value, path);
  };

  only(root, '', ['kind', 'version', 'metadata', 'spec']);
  const kind = str(root, 'kind', 'kind', true);
  if (kind !== 'join_token') fail(get(root, 'kind')?.value as Node, 'kind', `expected "join_token", got "${kind}"`);
  const metadata = map(root, 'metadata', 'metadata', true) as YAMLMap;
  only(metadata, 'metadata', ['name', 'description']);
  const name = str(metadata, 'name', 'metadata.name', true) as string;
  try {
    validateName('join token', name);
  } catch (err) {
    fail(get(metadata, 'name')?.value as Node, 'metadata.name', (err as Error).message);
  }
  const spec = map(root, 'spec', 'spec', true) as YAMLMap;
  const joinMethod = str(spec, 'join_method', 'spec.join_method', true) as string;
  if (!CLAIM.test(joinMethod)) fail(get(spec, 'join_method')?.value as Node, 'spec.join_method', `invalid join method "${joinMethod}"`);
  only(spec, 'spec', ['bot', 'join_method', 'allow', 'audience', 'expires', joinMethod]);
  const bot = str(spec, 'bot', 'spec.bot', true) as string;
  try {
    validateName('bot', bot);
  } catch (err) {
    fail(get(spec, 'bot')?.value as Node, 'spec.bot', (err as Error).message);
  }
  const audience = str(spec, 'audience', 'spec.audience') ?? '';
  const expires = str(spec, 'expires', 'spec.expires');
  let expiresAt: Date | null = null;
  if (expires !== undefined) {
    expiresAt = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(expires) ? new Date(expires) : null;
    if (!expiresAt || Number.isNaN(expiresAt.getTime())) fail(get(spec, 'expires')?.value as Node, 'spec.expires', `expected an RFC 3339 time such as 2027-01-31T00:00:00Z, got "${expires}"`);
  }
  const allowNode = get(spec, 'allow');
  const allow: AllowRule[] = [];
  if (allowNode && !(isScalar(allowNode.value) && allowNode.value.value === null)) {
    if (!isSeq(allowNode.value)) fail(allowNode.value as Node, 'spec.allow', 'expected a list of rules');
    const items = (allowNode.value as { items: unknown[] }).items;
    if (items.length > MAX_ALLOW_RULES) fail(allowNode.value as Node, 'spec.allow', `at most ${MAX_ALLOW_RULES} rules`);
    items.forEach((item, i) => {
      const path = `spec.allow[${i}]`;
      if (!isMap(item)) return fail(item as Node, path, 'expected a mapping of claim: value');
      const rule: AllowRule = Object.create(null) as AllowRule;
      for (const p of item.items) {
        const k = isScalar(p.key) ? String(p.key.value) : '';
        if (!CLAIM.test(k)) fail(p.key as Node, path, `invalid claim name "${k}"`);
        rule[k] = scalarText(p.value, `${path}.${k}`);
      }
      if (Object.keys(rule).length === 0) fail(item, path, 'an empty rule would allow anything; name at least one claim');
      allow.push({ ...rule });
    });
  }
  const options: Record<string, string> = {};
  const opts = map(spec, joinMethod, `spec.${joinMethod}`);
  for (const p of opts?.items ?? []) {
    const k = isScalar(p.key) ? String(p.key.value) : '';
    if (!CLAIM.test(k)) fail(p.key as Node, `spec.${joinMethod}`, `invalid setting name "${k}"`);
    // A static JWKS is a whole JSON document.
    options[k] = scalarText(p.value, `spec.${joinMethod}.${k}`, 64 * 1024);
  }
  return { name, bot, joinMethod, allow, audience, expiresAt, options };
}

/** Why one rule does or does not match a token's claims. */
export interface RuleVerdict {
  index: number;
  matched: boolean;
  /** Each field the rule names that the claims do not satisfy: `field: wanted "x", got "y"`. */
  mismatches: string[];
}

/**
 * Matches claims against allow rules: a rule matches when every field it names equals
 * the claim exactly (no globs, no case folding); any one matching rule admits. A claim
 * that is missing or not a string never matches.
 */
export function matchAllowRules(rules: readonly AllowRule[], claims: Record<string, unknown>): { allowed: boolean; verdicts: RuleVerdict[] } {
  const verdicts = rules.map((rule, index) => {
    const mismatches: string[] = [];
    for (const [field, want] of Object.entries(rule)) {
      const got = Object.hasOwn(claims, field) ? claims[field] : undefined;
      if (got !== want) mismatches.push(`${field}: wanted ${JSON.stringify(want)}, got ${got === undefined ? 'no claim' : JSON.stringify(typeof got === 'string' ? got.slice(0, 200) : got)}`);
    }
    return { index, matched: mismatches.length === 0, mismatches };
  });
  return { allowed: verdicts.some((v) => v.matched), verdicts };
}
