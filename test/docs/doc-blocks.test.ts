import { extractBlocks, missingOutput, parseAnnotation, toScript } from './doc-blocks';

/** The reading side of docs-commands.test.ts: which blocks, what they say, what they promise. */
describe('doc blocks', () => {
  const md = [
    '# Page', // 1
    '', // 2
    '<!-- doc-test: needs=role,sshd expect-exit=3 -->', // 3
    '```bash', // 4
    'mezctl bots ls', // 5
    '# Output: NAME  ROLES…', // 6
    '```', // 7
    '', // 8
    '<!-- doc-test: skip — needs a Kubernetes cluster (kubectl apply) -->', // 9
    '', // 10
    '```', // 11
    'kubectl apply -k .', // 12
    '```', // 13
    '```console', // 14
    '$ msh ssh web \\', // 15
    '    -- true', // 16
    'deploying as deploy', // 17
    '```', // 18
  ].join('\n');

  test('every fence, its 1-based line, language and the comment right before it', () => {
    const blocks = extractBlocks('docs/x.md', md);
    expect(blocks.map((b) => [b.line, b.lang])).toEqual([[4, 'bash'], [11, ''], [14, 'console']]);
    expect(blocks[0]?.annotation).toEqual({ needs: ['role', 'sshd'], keys: { 'expect-exit': '3' } });
    expect(blocks[1]?.annotation?.skip).toBe('needs a Kubernetes cluster (kubectl apply)');
    expect(blocks[2]?.annotation).toBeUndefined();
  });

  test('an unclosed fence names its file and line', () => {
    expect(() => extractBlocks('README.md', 'a\n```bash\nls\n')).toThrow(/^README.md:2: /);
  });

  test('annotations: quoted values, flags, a note; skip needs a reason', () => {
    expect(parseAnnotation(' check=github-workflow skip-step="Install: no network" daemon — a note ', 'x')).toEqual({ needs: [], keys: { check: 'github-workflow', 'skip-step': 'Install: no network', daemon: 'true' } });
    expect(parseAnnotation(' heredoc=role skip — needs a cluster', 'x')).toEqual({ needs: [], keys: { heredoc: 'role' }, skip: 'needs a cluster' });
    expect(() => parseAnnotation(' skip ', 'docs/a.md:9')).toThrow(/^docs\/a.md:9: skip needs a reason/);
  });

  test('# Output: lines are expectations, not script; console blocks split commands from output', () => {
    const [bash, , console] = extractBlocks('docs/x.md', md);
    expect(toScript(bash!)).toEqual({ script: 'mezctl bots ls\n', expected: ['NAME  ROLES…'] });
    expect(toScript(console!)).toEqual({ script: 'msh ssh web \\\n    -- true\n', expected: ['deploying as deploy'] });
  });

  test('expected lines match in order, … matching anything and the rest literally', () => {
    const out = 'Bot created: b (roles: r)\nJoin token: tok-bot-1f (expires: 2026-01-01T00:00:00Z)\n';
    expect(missingOutput(out, ['Bot created: b (roles: r)', 'Join token: tok-bot-… (expires: …)'])).toBeUndefined();
    expect(missingOutput(out, ['Join token: …', 'Bot created: …'])).toBe('Bot created: …');
    expect(missingOutput(out, ['Bot created: b.(roles: r)'])).toBe('Bot created: b.(roles: r)');
  });
});
