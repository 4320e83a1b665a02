const passthrough = (b: Buffer): Buffer => b;

/**
 * The reference service: one unary method that returns its request bytes. Defined in
 * grpc-js's shape (no protobuf), which both a bare grpc-js server and nice-grpc (the
 * Mezite server and client) accept, so the client side of every row is the same code.
 */
export const EchoDefinition = {
  echo: {
    path: '/mezite.bench.v1.EchoService/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
    originalName: 'echo',
  },
} as const;

/**
 * grpc.health.v1 Check with the bytes left encoded: an empty request asks about the
 * whole server. Every Mezite server answers it outside its request middleware.
 */
export const HealthCheckDefinition = {
  check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
    originalName: 'check',
  },
} as const;
