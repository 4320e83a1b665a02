import { formatTable, rfc3339 } from './output';

describe('formatTable', () => {
  test('pads columns to the widest cell plus two spaces and prints - for empty cells', () => {
    const out = formatTable(['PRINCIPAL', 'SUBJECT', 'ACR', 'AMR'], [['service', '0b5cbb4e-7d35-4d43-9f0a-6d1c2c9b3a11', '', undefined]]);
    expect(out).toBe('PRINCIPAL  SUBJECT                               ACR  AMR\nservice    0b5cbb4e-7d35-4d43-9f0a-6d1c2c9b3a11  -    -\n');
  });
  test('rfc3339 drops milliseconds', () => {
    expect(rfc3339(new Date('2026-03-24T15:00:00.123Z'))).toBe('2026-03-24T15:00:00Z');
  });
});
