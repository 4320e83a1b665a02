/**
 * Test support shared by every package's tests (`@mezite/identity/testing`): tests that
 * skip for a missing binary only outside CI, and property tests with a floor of cases.
 * Never imported by production code.
 */
export * from './needs';
export * from './property';
export * from './report';
