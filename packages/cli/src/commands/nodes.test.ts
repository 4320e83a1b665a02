import { parseLabels } from './nodes';

describe('parseLabels', () => {
  test.each<[string, Record<string, string>]>([
    ['env=staging,team=web', { env: 'staging', team: 'web' }],
    [' env = staging , ', { env: 'staging' }],
    ['', {}],
    // Names every object inherits are labels like any other, not "given twice".
    ['toString=x', { toString: 'x' }],
    ['constructor=a,hasOwnProperty=b,valueOf=c', { constructor: 'a', hasOwnProperty: 'b', valueOf: 'c' }],
  ])('%j', (text, want) => {
    const got = parseLabels(text);
    expect(Object.entries(got)).toEqual(Object.entries(want));
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
  });

  test.each<[string, RegExp]>([
    ['env', /^--labels: "env" is not NAME=VALUE$/],
    ['=x', /^--labels: "=x" is not NAME=VALUE$/],
    ['env=a,env=b', /^--labels: "env" is given twice$/],
    ['toString=a,toString=b', /^--labels: "toString" is given twice$/],
    ['__proto__=x', /^--labels: label name "__proto__"/],
  ])('%j is refused', (text, msg) => {
    expect(() => parseLabels(text)).toThrow(msg);
  });
});
