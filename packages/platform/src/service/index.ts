export * from './service-config';
export * from './tls-files';
export * from './ops-endpoints';
