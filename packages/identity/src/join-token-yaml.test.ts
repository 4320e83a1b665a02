import * as fc from 'fast-check';
import { isMeziteError } from './errors';
import { joinAudience, matchAllowRules, parseJoinTokenYaml } from './join-token-yaml';
import { assertProperty } from './testing';

const DOC = `kind: join_token
metadata:
  name: gha-deploy
spec:
  bot: github-deploy
  join_method: github
  expires: 2027-01-31T00:00:00Z
  allow:
    - repository: octo-org/octo-repo
      ref: refs/heads/main
    - repository_owner: octo-org
      environment: production
  github:
    enterprise_server_host: github.example.com
`;

describe('parseJoinTokenYaml', () => {
  test('reads the document as written', () => {
    expect(parseJoinTokenYaml(DOC)).toEqual({
      name: 'gha-deploy',
      bot: 'github-deploy',
      joinMethod: 'github',
      audience: '',
      expiresAt: new Date('2027-01-31T00:00:00Z'),
      allow: [{ repository: 'octo-org/octo-repo', ref: 'refs/heads/main' }, { repository_owner: 'octo-org', environment: 'production' }],
      options: { enterprise_server_host: 'github.example.com' },
    });
  });

  test.each([
    ['a typo in a spec field', DOC.replace('join_method', 'joinmethod'), /^token.yaml:\d+: spec.joinmethod: unknown field|spec.join_method: is required/],
    ['settings of another method', DOC.replace('  github:', '  gitlab:'), /token.yaml:13: spec.gitlab: unknown field/],
    ['an empty rule (would allow anything)', DOC.replace('    - repository_owner: octo-org\n      environment: production\n', '    - {}\n'), /token.yaml:11: spec.allow\[1\]: an empty rule would allow anything/],
    ['a claim name that is no claim', DOC.replace('ref: refs', '__proto__: refs'), /invalid claim name "__proto__"/],
    ['a rule value that is a list', DOC.replace('ref: refs/heads/main', 'ref: [a, b]'), /spec.allow\[0\].ref: expected a string/],
    ['an expiry that is no time', DOC.replace('2027-01-31T00:00:00Z', 'next week'), /token.yaml:7: spec.expires: expected an RFC 3339 time/],
    ['a bad name', DOC.replace('name: gha-deploy', 'name: GHA Deploy'), /token.yaml:3: metadata.name: invalid join token name/],
    ['another kind', DOC.replace('kind: join_token', 'kind: role'), /kind: expected "join_token"/],
  ])('%s is InvalidArgument naming file, line and field', (_, text, msg) => {
    let err: unknown;
    try {
      parseJoinTokenYaml(text, 'token.yaml');
    } catch (e) {
      err = e;
    }
    expect(isMeziteError(err, 'InvalidArgument')).toBe(true);
    expect((err as Error).message).toMatch(msg);
  });

  test('a number-looking value is the text as written', () => {
    expect(parseJoinTokenYaml(DOC.replace('ref: refs/heads/main', 'ref: 1.20')).allow[0]).toEqual({ repository: 'octo-org/octo-repo', ref: '1.20' });
  });

  test('on any text: a document or InvalidArgument, never another error', () => {
    assertProperty(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom(DOC).chain((d) => fc.tuple(fc.nat(d.length), fc.string({ maxLength: 20 })).map(([i, s]) => d.slice(0, i) + s + d.slice(i)))), (text) => {
        try {
          parseJoinTokenYaml(text);
        } catch (err) {
          if (!isMeziteError(err, 'InvalidArgument')) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('matchAllowRules', () => {
  const claims = { repository: 'octo-org/octo-repo', ref: 'refs/heads/main', run_number: 10 };
  test.each<[string, Record<string, string>, boolean]>([
    ['every named claim equal', { repository: 'octo-org/octo-repo', ref: 'refs/heads/main' }, true],
    ['one claim different', { repository: 'octo-org/octo-repo', ref: 'refs/heads/dev' }, false],
    ['no globs', { repository: 'octo-org/*' }, false],
    ['case matters', { repository: 'Octo-Org/octo-repo' }, false],
    ['a missing claim never matches', { environment: '' }, false],
    ['a non-string claim never matches its text', { run_number: '10' }, false],
    ['an inherited property is no claim', { constructor: 'function Object() { [native code] }' }, false],
  ])('%s', (_, rule, allowed) => {
    expect(matchAllowRules([rule], claims).allowed).toBe(allowed);
  });

  test('any one rule admits; each verdict names the failing claims', () => {
    const m = matchAllowRules([{ ref: 'refs/heads/dev' }, { repository: 'octo-org/octo-repo' }], claims);
    expect(m.allowed).toBe(true);
    expect(m.verdicts).toEqual([
      { index: 0, matched: false, mismatches: ['ref: wanted "refs/heads/dev", got "refs/heads/main"'] },
      { index: 1, matched: true, mismatches: [] },
    ]);
    expect(matchAllowRules([], claims).allowed).toBe(false);
  });

  test('the default audience names tenant and resource', () => {
    expect(joinAudience('default', 'gha-deploy')).toBe('mezite:default/gha-deploy');
  });
});
