export * from './retention-job';
export * from './pg-advisory-lock';
export * from './retention-config';
