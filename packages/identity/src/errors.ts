/**
 * The small, fixed set of domain errors (STYLE.md §8). Every layer below the gRPC
 * edge throws one of these; one middleware maps them to gRPC status (§10) and the
 * client maps status back once. `cause` is kept for the log, never sent to a caller.
 */
export type ErrorCode =
  | 'InvalidArgument'
  | 'Unauthenticated'
  | 'PermissionDenied'
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'ResourceExhausted'
  | 'Unavailable'
  | 'DeadlineExceeded'
  | 'Internal';

/** gRPC status numbers (grpc/status.h); kept here so the domain needs no gRPC import. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const toStatus: Record<ErrorCode, number> = {
  InvalidArgument: GrpcStatus.INVALID_ARGUMENT,
  Unauthenticated: GrpcStatus.UNAUTHENTICATED,
  PermissionDenied: GrpcStatus.PERMISSION_DENIED,
  NotFound: GrpcStatus.NOT_FOUND,
  AlreadyExists: GrpcStatus.ALREADY_EXISTS,
  FailedPrecondition: GrpcStatus.FAILED_PRECONDITION,
  ResourceExhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  Unavailable: GrpcStatus.UNAVAILABLE,
  DeadlineExceeded: GrpcStatus.DEADLINE_EXCEEDED,
  Internal: GrpcStatus.INTERNAL,
};

/**
 * The word a person reads first in a CLI error line (`mezctl: Forbidden: …`). HTTP's
 * names where they are clearer to people than gRPC's (PERMISSION_DENIED → Forbidden).
 */
const toReason: Record<ErrorCode, string> = {
  InvalidArgument: 'Invalid argument',
  Unauthenticated: 'Unauthenticated',
  PermissionDenied: 'Forbidden',
  NotFound: 'Not found',
  AlreadyExists: 'Already exists',
  FailedPrecondition: 'Failed precondition',
  ResourceExhausted: 'Too many requests',
  Unavailable: 'Unavailable',
  DeadlineExceeded: 'Deadline exceeded',
  Internal: 'Internal error',
};

/** A domain error: a code the caller may act on, and a message fit to show them. */
export class MeziteError extends Error {
  override readonly name = 'MeziteError';
  /**
   * When the caller should try again (ResourceExhausted from a server shedding load):
   * sent as the `retry-after-ms` trailer, read back by the client middleware.
   */
  readonly retryAfterMs: number | undefined;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** The gRPC status number for this error. */
  get grpcStatus(): number {
    return toStatus[this.code];
  }

  /** The human reason word(s) used in CLI output. */
  get reason(): string {
    return toReason[this.code];
  }
}

type Ctor = (message: string, options?: { cause?: unknown; retryAfterMs?: number }) => MeziteError;
const make =
  (code: ErrorCode): Ctor =>
  (message, options) =>
    new MeziteError(code, message, options);

export const invalidArgument = make('InvalidArgument');
export const unauthenticated = make('Unauthenticated');
export const permissionDenied = make('PermissionDenied');
export const notFound = make('NotFound');
export const alreadyExists = make('AlreadyExists');
export const failedPrecondition = make('FailedPrecondition');
export const resourceExhausted = make('ResourceExhausted');
export const unavailable = make('Unavailable');
export const deadlineExceeded = make('DeadlineExceeded');
export const internal = make('Internal');

/** True when `err` is a MeziteError, optionally of the given code. */
export function isMeziteError(err: unknown, code?: ErrorCode): err is MeziteError {
  return err instanceof MeziteError && (code === undefined || err.code === code);
}

/** The ErrorCode for a gRPC status number; unknown numbers become Internal. */
export function codeFromGrpcStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(toStatus)) if (s === status) return code as ErrorCode;
  if (status === GrpcStatus.ABORTED) return 'FailedPrecondition';
  if (status === GrpcStatus.CANCELLED) return 'Unavailable';
  return 'Internal';
}

/** The human reason for an ErrorCode (`Forbidden` for PermissionDenied). */
export function reasonOf(code: ErrorCode): string {
  return toReason[code];
}
