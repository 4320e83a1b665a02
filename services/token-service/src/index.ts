export { main } from './main';
export { JoinTokenManager } from './domain/join-token-manager';
