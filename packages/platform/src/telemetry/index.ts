export * from './tracing-config';
export * from './tracing';
export * from './request-scope';
export * from './http-tracing';
