import * as fc from 'fast-check';
import { explainLogin, type NamedGrant } from './access-explain';
import { loginsForNode, type LabelSelector } from './role';
import { assertProperty } from './testing';

const role = (name: string, allow: { logins?: string[]; labels?: LabelSelector }, deny: { logins?: string[]; labels?: LabelSelector } = {}): NamedGrant => ({
  name,
  allow: { logins: allow.logins ?? [], nodeLabels: allow.labels ?? {} },
  deny: { logins: deny.logins ?? [], nodeLabels: deny.labels ?? {} },
});

describe('explainLogin: which rule of which role decides a login on a node', () => {
  const deployer = role('ci-deployer', { logins: ['deploy'], labels: { env: ['staging'] } });
  test.each<[string, NamedGrant[], Record<string, string>, string, boolean, string | undefined, RegExp]>([
    ['an allow rule that selects the node', [deployer], { env: 'staging' }, 'deploy', true, 'ci-deployer', /role ci-deployer allows the login deploy on nodes matching \{env: \[staging\]\}/],
    ['labels that no allow selects', [deployer], { env: 'prod' }, 'deploy', false, undefined, /match no allow.node_labels of the roles that allow deploy \(ci-deployer\)/],
    ['a login no role allows', [deployer], { env: 'staging' }, 'root', false, undefined, /no role allows the login root/],
    ['a deny of the login', [deployer, role('no-deploy', {}, { logins: ['deploy'] })], { env: 'staging' }, 'deploy', false, 'no-deploy', /role no-deploy denies the login deploy/],
    ['a deny of every login', [deployer, role('lockdown', {}, { logins: ['*'] })], { env: 'staging' }, 'deploy', false, 'lockdown', /denies every login \(deny.logins/],
    ['a deny.node_labels that selects the node', [deployer, role('no-pci', {}, { labels: { pci: ['*'] } })], { env: 'staging', pci: 'yes' }, 'deploy', false, 'no-pci', /denies every login on nodes matching \{pci: \[\*\]\}/],
    ['no roles', [], { env: 'staging' }, 'deploy', false, undefined, /no role/],
  ])('%s', (_name, roles, labels, login, allowed, decidedBy, reason) => {
    const e = explainLogin(roles, labels, login);
    expect(e.allowed).toBe(allowed);
    expect(e.decidedBy?.role).toBe(decidedBy);
    expect(e.reason).toMatch(reason);
    expect(e.allowed).toBe(loginsForNode(roles, labels).includes(login));
  });

  test('agrees with loginsForNode (what mezd authorized-principals tells sshd) on any roles, node and login', () => {
    const name = fc.constantFrom('env', 'team', 'pci', 'toString', '*');
    const value = fc.constantFrom('prod', 'staging', 'web', '*', '');
    const sel = fc.dictionary(name, fc.array(value, { minLength: 1, maxLength: 2 }), { maxKeys: 2 });
    const login = fc.constantFrom('deploy', 'root', 'ci', '*');
    const grant = fc.record({ name: fc.constantFrom('a', 'b', 'c'), allow: fc.record({ logins: fc.array(login, { maxLength: 3 }), nodeLabels: sel }), deny: fc.record({ logins: fc.array(login, { maxLength: 2 }), nodeLabels: sel }) });
    assertProperty(
      fc.property(fc.array(grant, { maxLength: 4 }), fc.dictionary(fc.constantFrom('env', 'team', 'pci', 'toString'), fc.constantFrom('prod', 'staging', 'web', 'yes')), login, (roles, labels, l) => {
        const e = explainLogin(roles, labels, l);
        expect(e.allowed).toBe(loginsForNode(roles, labels).includes(l));
        // The deciding role's rule is really there.
        if (e.decidedBy) {
          const r = roles.find((x) => x.name === e.decidedBy?.role);
          expect(r).toBeDefined();
        }
        expect(e.roles).toHaveLength(roles.length);
      }),
      { numRuns: 2000 },
    );
  });
});
