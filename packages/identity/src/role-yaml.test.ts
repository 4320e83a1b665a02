import { parseRoleYaml } from './role-yaml';

const SEED_ROLE = `kind: role
metadata:
  name: ci-deployer
  description: "CI/CD deploy pipeline SSH access"
spec:
  options:
    max_session_ttl: 1h
  allow:
    node_labels:
      env:
        - staging
        - production
    logins:
      - deploy
  deny:
    logins:
      - root
`;

describe('parseRoleYaml', () => {
  test("accepts seed 002's role exactly", () => {
    const r = parseRoleYaml(SEED_ROLE);
    expect(r).toMatchObject({
      name: 'ci-deployer',
      description: 'CI/CD deploy pipeline SSH access',
      options: { maxSessionTtlMs: 3600_000 },
      allow: { logins: ['deploy'], nodeLabels: { env: ['staging', 'production'] } },
      deny: { logins: ['root'], nodeLabels: {} },
    });
  });

  test.each<[string, string, string[]]>([
    ["seed 002's role, which lists none: a terminal only", SEED_ROLE, ['permit-pty']],
    ['a list', SEED_ROLE.replace('    max_session_ttl: 1h\n', '    max_session_ttl: 1h\n    ssh_extensions:\n      - permit-pty\n      - permit-port-forwarding\n'), ['permit-port-forwarding', 'permit-pty']],
    ['one, as a scalar', SEED_ROLE.replace('    max_session_ttl: 1h\n', '    max_session_ttl: 1h\n    ssh_extensions: permit-agent-forwarding\n'), ['permit-agent-forwarding']],
    ['an empty list: none', SEED_ROLE.replace('    max_session_ttl: 1h\n', '    max_session_ttl: 1h\n    ssh_extensions: []\n'), []],
    ['null: the default', SEED_ROLE.replace('    max_session_ttl: 1h\n', '    max_session_ttl: 1h\n    ssh_extensions:\n'), ['permit-pty']],
  ])('spec.options.ssh_extensions: %s', (_, text, want) => {
    expect(parseRoleYaml(text).options.sshExtensions).toEqual(want);
  });

  test.each<[string, string, RegExp]>([
    ['unknown extension', SEED_ROLE.replace('    max_session_ttl: 1h\n', '    max_session_ttl: 1h\n    ssh_extensions: [permit-pty, permit-tunnel]\n'), /^role.yaml:8: spec.options.ssh_extensions: unknown extension "permit-tunnel"; known: permit-X11-forwarding, /],
    ['__proto__ as a label name', SEED_ROLE.replace('      env:\n', '      __proto__: [x]\n      env:\n'), /^role.yaml:10: spec.allow.node_labels.__proto__: not a valid label name/],
    ['bad YAML', 'kind: role\nmetadata: [unclosed\n', /^role.yaml:\d+: invalid YAML/],
    ['wrong kind', 'kind: user\nmetadata:\n  name: x\nspec: {}\n', /^role.yaml:1: kind: expected "role", got "user"/],
    ['missing metadata', 'kind: role\nspec: {}\n', /^role.yaml:1: metadata: is required/],
    ['bad ttl', SEED_ROLE.replace('max_session_ttl: 1h', 'max_session_ttl: forever'), /^role.yaml:7: spec.options.max_session_ttl: invalid duration "forever"/],
    ['typo in deny', SEED_ROLE.replace('  deny:\n    logins:', '  deny:\n    login:'), /^role.yaml:16: spec.deny.login: unknown field/],
    ['logins not a list of strings', SEED_ROLE.replace('      - deploy', '      - {a: 1}'), /^role.yaml:14: spec.allow.logins: expected a list of strings/],
    ['bad name', SEED_ROLE.replace('name: ci-deployer', 'name: CI Deployer'), /^role.yaml:3: metadata.name: invalid role name/],
    ['not a mapping', '- a\n- b\n', /^role.yaml:1: \(document\): expected a mapping/],
    ['duplicate key', 'kind: role\nkind: role\n', /^role.yaml:\d+: invalid YAML/],
  ])('%s: error names file, line and field', (_, text, msg) => {
    expect(() => parseRoleYaml(text)).toThrow(msg);
  });
});
