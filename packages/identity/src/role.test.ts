import { allowedLogins, clampTtl, DEFAULT_SSH_EXTENSIONS, grantsFromClaims, grantsOf, labelsMatch, loginsForNode, SSH_EXTENSIONS, validateRole, type LabelSelector, type Role } from './role';

/** Names every plain object inherits from Object.prototype. */
const PROTOTYPE_NAMES = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupGetter__'];
/** `{ [name]: values }`: a computed key is an own property even for `__proto__`. */
const sel = (name: string, values: string[]): LabelSelector => ({ [name]: values });

const role = (over: Parameters<typeof validateRole>[0]): Role => validateRole(over);
type RoleGrantInput = { allow: LabelSelector; deny?: LabelSelector };

describe('role evaluation', () => {
  const deployer = role({ name: 'ci-deployer', maxSessionTtl: '1h', allowLogins: ['deploy'], denyLogins: ['root'], allowNodeLabels: { env: ['staging', 'production'] } });
  const ops = role({ name: 'ops', maxSessionTtl: '8h', allowLogins: ['root', 'ops', 'deploy'], allowNodeLabels: { '*': ['*'] } });

  test.each<[string, Role[], string[]]>([
    ['one role', [deployer], ['deploy']],
    ['deny in one role beats allow in another', [deployer, ops], ['deploy', 'ops']],
    ['allow alone', [ops], ['deploy', 'ops', 'root']],
    ['deny * denies all', [ops, role({ name: 'lockdown', denyLogins: ['*'] })], []],
    ['no roles', [], []],
  ])('allowedLogins: %s', (_, roles, want) => {
    expect(allowedLogins(roles)).toEqual(want);
  });

  test.each<[number, Role[], number]>([
    [4 * 3600_000, [deployer], 3600_000],
    [30 * 60_000, [deployer], 30 * 60_000],
    [24 * 3600_000, [deployer, ops], 3600_000],
    [24 * 3600_000, [ops], 8 * 3600_000],
  ])('clampTtl(%d) to the smallest max_session_ttl', (req, roles, want) => {
    expect(clampTtl(req, roles)).toBe(want);
  });

  test.each<[Record<string, string[]>, Record<string, string>, boolean]>([
    [{ env: ['staging', 'production'] }, { env: 'staging', team: 'web' }, true],
    [{ env: ['staging', 'production'] }, { env: 'dev' }, false],
    [{ env: ['staging'] }, {}, false],
    [{ '*': ['*'] }, {}, true],
    [{ env: ['*'] }, { env: 'anything' }, true],
    [{ env: ['staging'], team: ['web'] }, { env: 'staging', team: 'db' }, false],
    [{}, { env: 'staging' }, false],
  ])('labelsMatch(%j, %j) = %s', (sel, labels, want) => {
    expect(labelsMatch(sel, labels)).toBe(want);
  });

  // A selector naming an inherited property matched every node: `labels.toString` is
  // Object.prototype's function, which is not undefined, and `*` accepts any value.
  test.each<[string, LabelSelector, Record<string, string>, boolean]>([
    ...PROTOTYPE_NAMES.flatMap((n): Array<[string, LabelSelector, Record<string, string>, boolean]> => [
      [`${n}: [*] on a node without it`, sel(n, ['*']), { env: 'prod' }, false],
      [`${n}: [*] on a node with no labels`, sel(n, ['*']), {}, false],
      [`${n} and env on a node with env only`, { ...sel(n, ['*']), env: ['prod'] }, { env: 'prod' }, false],
      [`${n}: [prod] on a node with ${n}=prod`, sel(n, ['prod']), { [n]: 'prod' }, true],
      [`${n}: [*] on a node with ${n}=prod`, sel(n, ['*']), { [n]: 'prod' }, true],
      [`${n}: [dev] on a node with ${n}=prod`, sel(n, ['dev']), { [n]: 'prod' }, false],
      [`${n}: [its inherited value as text] on a node without it`, sel(n, [String(({} as Record<string, unknown>)[n])]), {}, false],
    ]),
    ['a label looked up on a node whose labels object has no prototype', { env: ['prod'] }, Object.assign(Object.create(null) as Record<string, string>, { env: 'prod' }), true],
  ])('labelsMatch, own properties only: %s', (_, selector, labels, want) => {
    expect(labelsMatch(selector, labels)).toBe(want);
  });

  test.each<[string, RoleGrantInput, Record<string, string>, string[]]>([
    ['allow toString: * reaches no node without that label', { allow: sel('toString', ['*']) }, { env: 'prod' }, []],
    ['allow constructor: * reaches no node without that label', { allow: sel('constructor', ['*']) }, {}, []],
    ['allow toString: [prod] reaches a node with toString=prod', { allow: sel('toString', ['prod']) }, { toString: 'prod' }, ['deploy']],
    ['deny hasOwnProperty: * does not deny a node without that label', { allow: { env: ['prod'] }, deny: sel('hasOwnProperty', ['*']) }, { env: 'prod' }, ['deploy']],
    ['deny toString: [prod] denies a node with toString=prod', { allow: { env: ['prod'] }, deny: sel('toString', ['prod']) }, { env: 'prod', toString: 'prod' }, []],
  ])('loginsForNode: %s', (_, g, labels, want) => {
    const r = role({ name: 'r', allowLogins: ['deploy'], allowNodeLabels: g.allow, ...(g.deny ? { denyNodeLabels: g.deny } : {}) });
    expect(loginsForNode([r], labels)).toEqual(want);
    // The node's view: the same grants after the certificate round trip.
    expect(loginsForNode(grantsFromClaims(JSON.parse(JSON.stringify(grantsOf([r])))) ?? [], labels)).toEqual(want);
  });

  test('grantsFromClaims refuses a __proto__ label name instead of dropping it', () => {
    const claims = JSON.parse('[{"allow":{"logins":["deploy"],"node_labels":{"env":["prod"]}},"deny":{"logins":[],"node_labels":{"__proto__":["prod"]}}}]');
    expect(grantsFromClaims(claims)).toBeNull();
  });

  test('loginsForNode applies node labels, and deny wins', () => {
    expect(loginsForNode([deployer], { env: 'staging' })).toEqual(['deploy']);
    expect(loginsForNode([deployer], { env: 'dev' })).toEqual([]);
    expect(loginsForNode([deployer, ops], { env: 'dev' })).toEqual(['deploy', 'ops']);
    const noDev = role({ name: 'no-dev', denyNodeLabels: { env: ['dev'] } });
    expect(loginsForNode([ops, noDev], { env: 'dev' })).toEqual([]);
  });

  test.each<[Parameters<typeof validateRole>[0], RegExp]>([
    [{ name: 'Bad' }, /^metadata.name: invalid role name/],
    [{ name: 'r', maxSessionTtl: 'soon' }, /^spec.options.max_session_ttl: invalid duration "soon"/],
    [{ name: 'r', maxSessionTtl: '10s' }, /^spec.options.max_session_ttl: must be between/],
    [{ name: 'r', allowLogins: ['bad login'] }, /^spec.allow.logins: invalid login "bad login"/],
    [{ name: 'r', sshExtensions: ['permit-everything'] }, /^spec.options.ssh_extensions: unknown extension/],
    [{ name: 'r', sshExtensions: ['no-pty'] }, /^spec.options.ssh_extensions: unknown extension "no-pty"; known: permit-X11-forwarding, permit-agent-forwarding, permit-port-forwarding, permit-pty, permit-user-rc$/],
    [{ name: 'r', allowNodeLabels: sel('__proto__', ['prod']) }, /^spec.allow.node_labels.__proto__: not a valid label name$/],
    [{ name: 'r', denyNodeLabels: sel('__proto__', ['*']) }, /^spec.deny.node_labels.__proto__: not a valid label name$/],
    [{ name: 'r', allowNodeLabels: { env: 'prod' as unknown as string[] } }, /^spec.allow.node_labels.env: expected a list of strings$/],
  ])('validateRole refuses %j', (input, msg) => {
    expect(() => validateRole(input)).toThrow(msg);
  });

  test('validateRole keeps only own selector entries, on a plain object', () => {
    const inherited = Object.create({ env: ['prod'] }) as LabelSelector;
    inherited.team = ['web'];
    const r = role({ name: 'r', allowNodeLabels: inherited });
    expect(Object.getPrototypeOf(r.allow.nodeLabels)).toBe(Object.prototype);
    expect(Object.entries(r.allow.nodeLabels)).toEqual([['team', ['web']]]);
  });

  test.each<[string, string[] | undefined, string[]]>([
    ['a role that lists none gets permit-pty only', undefined, ['permit-pty']],
    ['port forwarding when asked for', ['permit-pty', 'permit-port-forwarding'], ['permit-port-forwarding', 'permit-pty']],
    ['agent forwarding without a terminal', ['permit-agent-forwarding'], ['permit-agent-forwarding']],
    ['all five, deduplicated and sorted', [...SSH_EXTENSIONS, 'permit-pty'].reverse(), [...SSH_EXTENSIONS]],
    ['an empty list grants none', [], []],
  ])('ssh extensions: %s', (_, sshExtensions, want) => {
    expect(role({ name: 'r', ...(sshExtensions ? { sshExtensions } : {}) }).options.sshExtensions).toEqual(want);
  });

  test('the default grants no forwarding and no ~/.ssh/rc', () => {
    expect(DEFAULT_SSH_EXTENSIONS).toEqual(['permit-pty']);
  });
});
