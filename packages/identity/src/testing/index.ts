/**
 * Test support shared by every package's tests (`@mezite/identity/testing`): tests that
 * skip for a missing binary only outside CI.
 * Never imported by production code.
 */
export * from './needs';
export * from './report';
