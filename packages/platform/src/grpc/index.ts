export * from './server';
export * from './server-middleware';
export * from './tracing-middleware';
export * from './client';
export * from './load-shedding';
export * from './credentials';
export { Metadata } from 'nice-grpc-common';
export { peerCommonName, requireCallers } from './caller-identity';
