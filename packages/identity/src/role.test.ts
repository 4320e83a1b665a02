import { allowedLogins, clampTtl, labelsMatch, loginsForNode, validateRole, type Role } from './role';

const role = (over: Parameters<typeof validateRole>[0]): Role => validateRole(over);

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
  ])('validateRole refuses %j', (input, msg) => {
    expect(() => validateRole(input)).toThrow(msg);
  });
});
