import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiToken, parseApiToken } from '@mezite/identity';
import { REPO_ROOT } from '../harness/cli';

/**
 * docs/token-format.md publishes the token's shape for secret scanners. Its rules are
 * configuration, not commands, so docs-commands.test.ts cannot run them: this test keeps
 * them, and the example token, true to the format parseApiToken accepts.
 */
const page = readFileSync(join(REPO_ROOT, 'docs', 'token-format.md'), 'utf8');
const example = /\bpsk_live_Example0Leaked0Token\w+/.exec(page)?.[0] ?? '';
const gitleaks = new RegExp(/regex = '''(.+)'''/.exec(page)?.[1] ?? 'unmatched', 'g');
const format = /Secret format: (.+)/.exec(page)?.[1]?.trim() ?? 'unmatched';
const before = /Before secret: (.+)/.exec(page)?.[1]?.trim().replace('\\A', '^') ?? 'unmatched';
const after = /After secret: +(.+)/.exec(page)?.[1]?.trim().replace('\\z', '$') ?? 'unmatched';
const github = new RegExp(`(?:${before})(${format})(?=${after})`, 'g');

const found = (re: RegExp, text: string) => [...text.matchAll(re)].map((m) => m[1]);

describe('docs/token-format.md: the published rules find exactly the tokens Mezite issues', () => {
  test('the example token is well-formed (its checksum matches), and the page says it is only an example', () => {
    expect(parseApiToken(example)).toEqual({ env: 'live', random: 'Example0Leaked0Token00' });
    expect(page).toContain('no server issued it');
  });

  test.each([
    ['gitleaks', () => gitleaks],
    ['GitHub custom pattern', () => github],
  ])('%s finds every issued token in text, whole, and only once', (_name, re) => {
    for (let i = 0; i < 200; i++) {
      const t = generateApiToken(i % 2 ? 'live' : 'dev');
      for (const text of [t, `TOKEN=${t}\n`, `"${t}"`, `curl -H 'authorization: Bearer ${t}' …`, `a ${t} b ${t}`]) {
        const hits = found(re(), text);
        expect(hits.length).toBeGreaterThan(0);
        expect(hits.every((h) => h === t)).toBe(true);
      }
    }
  });

  test.each([
    ['gitleaks', () => gitleaks],
    ['GitHub custom pattern', () => github],
  ])('%s finds nothing that is not a token: a short or long body, another environment, part of a longer word', (_name, re) => {
    const t = generateApiToken('live');
    for (const text of [t.slice(0, -1), `${t}x`, t.replace('psk_live_', 'psk_prod_'), `x${t}`, t.replace('psk_', 'PSK_'), `${t.slice(0, 20)}-${t.slice(21)}`]) {
      expect(found(re(), text)).toEqual([]);
    }
  });

  test('the regular expression in the prose is the one the rules use', () => {
    expect(page).toContain('`psk_(live|dev)_[0-9A-Za-z]{28}`');
    expect(format).toBe('psk_(live|dev)_[0-9A-Za-z]{28}');
  });
});
