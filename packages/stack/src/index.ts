export { startStack, SERVICES, DEV_OIDC, type Stack, type StackOptions, type ServiceName, type ProcessName } from './stack';
export { startEmbeddedPostgres } from './embedded-postgres';
export { checkHealth, waitHealthy } from './health';
