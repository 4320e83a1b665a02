import { boundedMessage, MAX_ERROR_MESSAGE_LENGTH } from './server-middleware';

describe('boundedMessage: what a caller is sent of an error message', () => {
  test('a message up to the limit is sent as it is', () => {
    expect(boundedMessage('bot "x" not found')).toBe('bot "x" not found');
    const exact = 'a'.repeat(MAX_ERROR_MESSAGE_LENGTH);
    expect(boundedMessage(exact)).toBe(exact);
  });

  test('a longer one (a hostile value echoed back) is cut, with an ellipsis, to the limit', () => {
    const out = boundedMessage(`unsupported grant_type "${'x'.repeat(4096)}"`);
    expect(out).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
    expect(out.endsWith('…')).toBe(true);
    expect(out.startsWith('unsupported grant_type "xxx')).toBe(true);
  });
});
