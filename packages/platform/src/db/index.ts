export * from './db-errors';
export * from './migrate';
export * from './test-database';
export * from './group-commit';
export * from './service-roles';
