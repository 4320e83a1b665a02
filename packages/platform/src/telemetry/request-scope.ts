import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the request a piece of code runs for. */
export interface RequestScope {
  requestId: string;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** The request the current code runs for (set by the server middleware), if any. */
export function currentRequest(): RequestScope | undefined {
  return scopes.getStore();
}

/** Runs `fn` (and everything it starts) as part of the request `scope`. */
export function runInRequest<T>(scope: RequestScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/**
 * Drives `gen` so that its body, and everything it awaits, runs inside `enter`.
 * AsyncLocalStorage scopes and OpenTelemetry contexts are entered with a callback,
 * which a generator body cannot be passed to: each step is resumed inside it instead
 * (the body resumes synchronously in `next()`, and the awaits it reaches capture the
 * scope). This is how nice-grpc middleware hands a context to the handler it calls.
 */
export async function* runGeneratorIn<T, R>(enter: <X>(fn: () => X) => X, gen: AsyncGenerator<T, R, undefined>): AsyncGenerator<T, R, undefined> {
  let done = false;
  try {
    for (;;) {
      const r = await enter(() => gen.next());
      if (r.done) {
        done = true;
        return r.value;
      }
      yield r.value;
    }
  } finally {
    // The consumer stopped early (a cancelled stream): let the inner generator clean up.
    if (!done) await enter(() => gen.return(undefined as R)).catch(() => undefined);
  }
}
