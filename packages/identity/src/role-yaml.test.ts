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

  test.each<[string, string, RegExp]>([
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
