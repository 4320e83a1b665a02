export { main } from './main';
export { ApiTokenManager } from './domain/api-token-manager';
export { ApiTokenVerifier } from './domain/api-token-verifier';
export { ClientSecretManager } from './domain/client-secret-manager';
