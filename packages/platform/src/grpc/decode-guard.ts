import { invalidArgument } from '@mezite/identity';
import type { CallContext, ServerMiddlewareCall } from 'nice-grpc-common';

const MALFORMED = Symbol('mezite.malformedRequest');

interface Malformed {
  [MALFORMED]: string;
}

function isMalformed(x: unknown): x is Malformed {
  return typeof x === 'object' && x !== null && MALFORMED in x;
}

interface MessageType {
  decode(input: Uint8Array): unknown;
}

/**
 * A ts-proto service definition whose request decoders never throw. grpc-js answers a
 * decoder that throws with INTERNAL ("Error deserializing request") before any
 * middleware runs; a request that does not decode (truncated field, wrong wire type,
 * an int64 beyond 2^53) is the caller's mistake, so it is handed on as a marker that
 * {@link decodeGuardMiddleware} turns into INVALID_ARGUMENT.
 */
export function guardDecoding<D>(definition: D): D {
  const def = definition as unknown as { methods?: Record<string, { requestType: MessageType }> };
  if (!def || typeof def !== 'object' || !def.methods) return definition;
  const methods: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(def.methods)) {
    const type = method.requestType;
    methods[name] = {
      ...method,
      requestType: {
        ...type,
        decode(input: Uint8Array) {
          try {
            return type.decode(input);
          } catch (err) {
            return { [MALFORMED]: err instanceof Error ? err.message : String(err) } satisfies Malformed;
          }
        },
      },
    };
  }
  return { ...def, methods } as unknown as D;
}

/** Refuses a request that did not decode (see {@link guardDecoding}) with INVALID_ARGUMENT. */
export function decodeGuardMiddleware() {
  return async function* middleware<Req, Res>(call: ServerMiddlewareCall<Req, Res>, context: CallContext) {
    if (isMalformed(call.request)) throw invalidArgument(`malformed request message (${call.request[MALFORMED].slice(0, 120)})`);
    return yield* call.next(call.request, context);
  };
}
