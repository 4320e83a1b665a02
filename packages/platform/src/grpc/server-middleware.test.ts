import { boundedMessage, MAX_ERROR_MESSAGE_LENGTH } from './server-middleware';

/** The cap docs/SECURITY.md states; written out so that raising the constant fails here. */
const CAP = 500;

describe('boundedMessage: what a caller is sent of an error message', () => {
  test('the cap is 500 characters', () => {
    expect(MAX_ERROR_MESSAGE_LENGTH).toBe(CAP);
  });

  test('a message of up to 500 characters is sent as it is', () => {
    expect(boundedMessage('bot "x" not found')).toBe('bot "x" not found');
    const exact = 'a'.repeat(CAP);
    expect(boundedMessage(exact)).toBe(exact);
  });

  test.each([CAP + 1, 4096 + 25])('a %i-character one (a hostile value echoed back) is cut, with an ellipsis, to exactly 500', (length) => {
    const message = `unsupported grant_type "${'x'.repeat(length - 25)}"`;
    expect(message).toHaveLength(length);
    const out = boundedMessage(message);
    expect(out).toHaveLength(CAP);
    expect(out.endsWith('…')).toBe(true);
    expect(out.slice(0, CAP - 1)).toBe(message.slice(0, CAP - 1));
  });

  test('a cut never splits a surrogate pair: an emoji at the cut is dropped whole, and the result is well-formed', () => {
    for (const offset of [0, 1, 2, 3]) {
      const message = `${'x'.repeat(CAP - 3 + offset)}${'😀'.repeat(10)}`;
      const out = boundedMessage(message);
      expect(out.length).toBeLessThanOrEqual(CAP);
      expect(out.endsWith('…')).toBe(true);
      // No lone surrogate anywhere (a lone one would be replaced by U+FFFD in UTF-8).
      expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(out)).toBe(false);
      expect(Buffer.from(out, 'utf8').toString('utf8')).toBe(out);
    }
  });
});
