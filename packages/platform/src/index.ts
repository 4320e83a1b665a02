export * from './log/logger';
export * from './grpc';
export * from './lifecycle/shutdown';
export * from './service';
export * from './pki';
export * from './db';
export * from './cache';
