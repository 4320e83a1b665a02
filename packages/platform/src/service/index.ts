export * from './service-config';
export * from './tls-files';
