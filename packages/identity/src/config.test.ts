import { field, loadConfig, parse } from './config';

const schema = {
  port: field('MEZITE_X_PORT', parse.port, 3025),
  url: field('DATABASE_URL', parse.url, undefined, 'a PostgreSQL URL'),
  debug: field('MEZITE_X_DEBUG', parse.bool, false),
};

describe('loadConfig', () => {
  test('flags beat env beat defaults', () => {
    const c = loadConfig(schema, { env: { MEZITE_X_PORT: '4000', DATABASE_URL: 'postgres://h/db' }, flags: { port: '5000' } });
    expect(c).toEqual({ port: 5000, url: 'postgres://h/db', debug: false });
  });

  test('reports every bad key at once, each by name', () => {
    expect(() => loadConfig(schema, { env: { MEZITE_X_PORT: 'abc', MEZITE_X_DEBUG: 'maybe' } })).toThrow(
      /MEZITE_X_PORT: expected a port number.*DATABASE_URL is required: a PostgreSQL URL.*MEZITE_X_DEBUG: expected true or false/,
    );
  });
});
