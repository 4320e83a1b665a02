export { startStack, instanceName, SERVICES, DEV_OIDC, type Stack, type StackOptions, type ServiceName, type InstanceName, type ProcessName } from './stack';
export { startEmbeddedPostgres } from './embedded-postgres';
export { checkHealth, waitHealthy } from './health';
