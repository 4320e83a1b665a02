/**
 * The generated contracts, one namespace per proto package (ts-proto emits a
 * `protobufPackage` constant per file, so flat re-exports would collide).
 */
export * as authv1 from './gen/mezite/auth/v1/auth';
export * as tokenv1 from './gen/mezite/token/v1/token';
export * as sshcav1 from './gen/mezite/sshca/v1/sshca';
