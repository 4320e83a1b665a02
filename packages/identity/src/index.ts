export * from './errors';
export * from './clock';
export * from './duration';
export * from './identity-ref';
export * from './principal';
export * from './names';
export * from './config';
