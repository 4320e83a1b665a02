import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Scalar, type YAMLMap } from 'yaml';
import { invalidArgument, isMeziteError } from './errors';
import { validateRole, type LabelSelector, type Role } from './role';

/**
 * Parses a role document as seed 002 writes it. Every error names the file, the
 * line and the field (`role.yaml:7: spec.options.max_session_ttl: …`), so a person
 * can fix it without guessing. Unknown fields are refused, not ignored: a typo in
 * `deny` must never silently grant access.
 */
export function parseRoleYaml(text: string, file = 'role.yaml'): Role {
  if (text.length > 256 * 1024) throw invalidArgument(`${file}: file too large (over 256 KiB)`);
  const lc = new LineCounter();
  // Deep nesting overflows the yaml package's recursion. It reports that as a document
  // error carrying the engine's message (RESOURCE_EXHAUSTION, or TAG_RESOLVE_FAILED when
  // the overflow hits a scalar), and could throw the RangeError itself from elsewhere;
  // either way say what is wrong with the document instead.
  const tooDeep = `${file}:1: invalid YAML: the document is nested too deeply`;
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    if (err instanceof RangeError) throw invalidArgument(tooDeep);
    throw err;
  }
  const lineOf = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const fail = (n: Node | null | undefined, field: string, msg: string): never => {
    throw invalidArgument(`${file}:${lineOf(n)}: ${field}: ${msg}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    if (e?.code === 'RESOURCE_EXHAUSTION' || /Maximum call stack/.test(e?.message ?? '')) throw invalidArgument(tooDeep);
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
  const str = (m: YAMLMap, key: string, path: string, required = false): string | undefined => {
    const p = get(m, key);
    if (!p || (isScalar(p.value) && p.value.value === null)) {
      if (required) fail(m, path, 'is required');
      return undefined;
    }
    if (!isScalar(p.value) || typeof p.value.value === 'object') fail(p.value as Node, path, 'expected a string');
    return String((p.value as { value: unknown }).value);
  };
  // A plain scalar as written: YAML reads `1.20` as the number 1.2 and `0x1F` as 31, and
  // a label value must match what the author typed, not its numeric reading.
  const written = (s: Scalar): string => (typeof s.value === 'string' ? s.value : (s.source ?? String(s.value)));
  const listOf = (p: ReturnType<typeof get>, path: string): [string[] | undefined, Node | undefined] => {
    if (!p || (isScalar(p.value) && p.value.value === null)) return [undefined, undefined];
    if (isScalar(p.value)) return [[written(p.value)], p.value];
    if (!isSeq(p.value)) fail(p.value as Node, path, 'expected a list of strings');
    const out: string[] = [];
    for (const item of (p.value as { items: unknown[] }).items) {
      if (!isScalar(item) || typeof item.value === 'object') fail(item as Node, path, 'expected a list of strings');
      out.push(written(item as Scalar));
    }
    return [out, p.value as Node];
  };
  const list = (m: YAMLMap | undefined, key: string, path: string) => listOf(m ? get(m, key) : undefined, path);
  const labels = (m: YAMLMap | undefined, path: string): LabelSelector | undefined => {
    const sel = m ? map(m, 'node_labels', path) : undefined;
    if (!sel) return undefined;
    const out: LabelSelector = {};
    for (const p of sel.items) {
      // Each pair's own value: looking it up again by the name's text missed keys YAML
      // reads as numbers, booleans or null (`1: [prod]` became `1: []`, a deny that
      // matches nothing), and `__proto__` set the object's prototype instead of a label.
      const k = isScalar(p.key) && p.key.value !== null ? written(p.key) : '';
      if (!k) fail(p.key as Node, path, 'label names must be strings');
      // Refused, not kept as a plain key: no node label can have that name (they start
      // with a letter or digit), so it can only be a mistake or a probe (DECISIONS.md).
      if (k === '__proto__') fail(p.key as Node, `${path}.${k}`, 'not a valid label name');
      // `1` and `'1'` are different YAML keys but the same label: one would silently win.
      if (Object.hasOwn(out, k)) fail(p.key as Node, `${path}.${k}`, 'this label is given twice');
      const [values] = listOf(p, `${path}.${k}`);
      out[k] = values ?? [];
    }
    return out;
  };

  only(root, '', ['kind', 'version', 'metadata', 'spec']);
  const kind = str(root, 'kind', 'kind', true);
  if (kind !== 'role') fail(get(root, 'kind')?.value as Node, 'kind', `expected "role", got "${kind}"`);
  const metadata = map(root, 'metadata', 'metadata', true) as YAMLMap;
  only(metadata, 'metadata', ['name', 'description', 'labels']);
  const name = str(metadata, 'name', 'metadata.name', true) as string;
  const description = str(metadata, 'description', 'metadata.description');
  const spec = map(root, 'spec', 'spec', true) as YAMLMap;
  only(spec, 'spec', ['options', 'allow', 'deny']);
  const options = map(spec, 'options', 'spec.options');
  if (options) only(options, 'spec.options', ['max_session_ttl', 'ssh_extensions']);
  const allow = map(spec, 'allow', 'spec.allow');
  if (allow) only(allow, 'spec.allow', ['logins', 'node_labels']);
  const deny = map(spec, 'deny', 'spec.deny');
  if (deny) only(deny, 'spec.deny', ['logins', 'node_labels']);

  const ttl = options ? str(options, 'max_session_ttl', 'spec.options.max_session_ttl') : undefined;
  const [exts] = list(options, 'ssh_extensions', 'spec.options.ssh_extensions');
  const [allowLogins] = list(allow, 'logins', 'spec.allow.logins');
  const [denyLogins] = list(deny, 'logins', 'spec.deny.logins');
  const allowNodeLabels = labels(allow, 'spec.allow.node_labels');
  const denyNodeLabels = labels(deny, 'spec.deny.node_labels');
  try {
    return validateRole({
      name,
      ...(description !== undefined ? { description } : {}),
      ...(ttl !== undefined ? { maxSessionTtl: ttl } : {}),
      ...(exts !== undefined ? { sshExtensions: exts } : {}),
      ...(allowLogins !== undefined ? { allowLogins } : {}),
      ...(denyLogins !== undefined ? { denyLogins } : {}),
      ...(allowNodeLabels !== undefined ? { allowNodeLabels } : {}),
      ...(denyNodeLabels !== undefined ? { denyNodeLabels } : {}),
    });
  } catch (err) {
    if (!isMeziteError(err)) throw err;
    // validateRole names the field; find its line.
    const field = err.message.split(':')[0] ?? '';
    const node = doc.getIn(field.split('.').map((s) => s), true) as Node | undefined;
    throw invalidArgument(`${file}:${lineOf(node ?? root)}: ${err.message}`);
  }
}
