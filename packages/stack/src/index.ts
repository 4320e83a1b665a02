export { startStack, SERVICES, type Stack, type StackOptions, type ServiceName } from './stack';
export { startEmbeddedPostgres } from './embedded-postgres';
export { checkHealth, waitHealthy } from './health';
