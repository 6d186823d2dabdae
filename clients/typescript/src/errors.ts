/**
 * Errors as types. Every `extensions.code` the server documents (src/common/domain-error.ts,
 * README "Errors") has a class here carrying the extension fields it documents; codes the client
 * does not know yet become a plain {@link RecoderError}. Transport failures (no answer, a timeout, an
 * answer that is not GraphQL) have classes of their own, outside the server's codes.
 */

/** One error of a GraphQL response, as the server sends it. */
export interface GraphQLErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  locations?: ReadonlyArray<{ line: number; column: number }>;
  extensions?: Record<string, unknown>;
}

/** Where an error came from and how it arrived. */
export interface RecoderErrorContext {
  /** The operation's name (e.g. "Recommendations"). */
  operation?: string;
  /** HTTP status of the answer (undefined when there was none). */
  status?: number;
  /** Seconds the server asked to wait (Retry-After header or extensions.retryAfterSeconds). */
  retryAfter?: number;
  /** Every error of the response (this one is the first). */
  errors?: readonly GraphQLErrorEntry[];
  /** The partial `data` of the response, if any. */
  data?: unknown;
  cause?: unknown;
}

/** Base class: any error the client raises. `code` is the server's `extensions.code` or a client code. */
export class RecoderError extends Error {
  /** The server's `extensions.code` (e.g. "NOT_FOUND"), or NETWORK_ERROR / TIMEOUT / BAD_RESPONSE for transport failures. */
  readonly code: string;
  /** The input field to blame, as the server names it (e.g. "interactions[3].itemId"). */
  readonly field?: string;
  /** All extension fields the server sent. */
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly path?: ReadonlyArray<string | number>;
  readonly operation?: string;
  readonly status?: number;
  readonly errors: readonly GraphQLErrorEntry[];
  readonly data?: unknown;

  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    this.extensions = extensions;
    this.field = typeof extensions.field === 'string' ? extensions.field : undefined;
    this.operation = context.operation;
    this.status = context.status;
    this.errors = context.errors ?? [];
    this.data = context.data;
    this.path = context.errors?.[0]?.path;
  }
}

/** BAD_USER_INPUT: a value is malformed or out of range; `field` names it. */
export class RecoderBadUserInputError extends RecoderError {}
/** BATCH_EMPTY: a batch argument is empty. */
export class RecoderBatchEmptyError extends RecoderError {}
/** BATCH_TOO_LARGE: a batch argument is larger than the server's cap (RECODER_MAX_BATCH_SIZE). */
export class RecoderBatchTooLargeError extends RecoderError {
  /** The cap, when the server says it. */
  readonly max?: number;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.max = typeof extensions.max === 'number' ? extensions.max : undefined;
  }
}
/** UNKNOWN_ITEMS: recordInteractions referenced items the catalog does not have; `ids` lists them. */
export class RecoderUnknownItemsError extends RecoderError {
  readonly ids: readonly string[];
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.ids = Array.isArray(extensions.ids) ? extensions.ids.map(String) : [];
  }
}
/** NOT_FOUND: the user, item, run or version asked for does not exist; `id` names it. */
export class RecoderNotFoundError extends RecoderError {
  readonly id?: string;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.id = extensions.id === undefined || extensions.id === null ? undefined : String(extensions.id);
  }
}
/** NO_ACTIVE_MODEL: the query needs a trained model and no model version is active. */
export class RecoderNoActiveModelError extends RecoderError {}
/** NOT_IN_MODEL: the item exists but the serving version has no vector (or image) for it; `id` names it. */
export class RecoderNotInModelError extends RecoderError {
  readonly id?: string;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.id = extensions.id === undefined || extensions.id === null ? undefined : String(extensions.id);
  }
}
/** UNSUPPORTED_BY_MODEL: the active model's kind cannot answer this. */
export class RecoderUnsupportedByModelError extends RecoderError {}
/** UNAUTHENTICATED: no API key, a malformed Authorization header, or an unknown or revoked key. */
export class RecoderUnauthenticatedError extends RecoderError {}
/** FORBIDDEN: the API key's role is too weak; `required` and `role` say which. */
export class RecoderForbiddenError extends RecoderError {
  readonly required?: string;
  readonly role?: string;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.required = typeof extensions.required === 'string' ? extensions.required : undefined;
    this.role = typeof extensions.role === 'string' ? extensions.role : undefined;
  }
}
/** RATE_LIMITED: too many requests (HTTP 429) or a full queue; `retryAfter` in seconds. */
export class RecoderRateLimitedError extends RecoderError {
  /** Seconds to wait before retrying (Retry-After), when the server says. */
  readonly retryAfter?: number;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.retryAfter = context.retryAfter ?? retryAfterOf(extensions);
  }
}
/** SERVICE_UNAVAILABLE: the server cannot take the request now (work queue full, shutting down); `retryAfter` in seconds. */
export class RecoderServiceUnavailableError extends RecoderError {
  readonly retryAfter?: number;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.retryAfter = context.retryAfter ?? retryAfterOf(extensions);
  }
}
/** RESPONSE_TOO_LARGE: the answer would exceed the server's response size limit; ask for fewer items or fields. */
export class RecoderResponseTooLargeError extends RecoderError {}
/** BAD_REQUEST: the HTTP request is not a GraphQL request (invalid JSON, no query, a batch; HTTP 400). */
export class RecoderBadRequestError extends RecoderError {}
/** METHOD_NOT_ALLOWED: a mutation sent with GET (HTTP 405). */
export class RecoderMethodNotAllowedError extends RecoderError {}
/** UNSUPPORTED_MEDIA_TYPE: a POST body that is not application/json (HTTP 415). */
export class RecoderUnsupportedMediaTypeError extends RecoderError {}
/** PAYLOAD_TOO_LARGE: a request body over the server's cap (HTTP 413); send smaller batches. */
export class RecoderPayloadTooLargeError extends RecoderError {}
/** QUERY_TOO_COMPLEX: the document exceeds a depth, alias, directive or cost limit. */
export class RecoderQueryTooComplexError extends RecoderError {}
/** CONFLICT: the request conflicts with the current state (startExperiment while one runs in the slot; `extensions.experimentId` names it). */
export class RecoderConflictError extends RecoderError {}
/** ALREADY_FINISHED: cancelTrainingRun on a run that ended, or stopExperiment on a stopped experiment; `status` says how. */
export class RecoderAlreadyFinishedError extends RecoderError {
  readonly runStatus?: string;
  constructor(
    message: string,
    code: string,
    extensions: Record<string, unknown> = {},
    context: RecoderErrorContext = {},
  ) {
    super(message, code, extensions, context);
    this.runStatus = typeof extensions.status === 'string' ? extensions.status : undefined;
  }
}
/** GRAPHQL_VALIDATION_FAILED: the document does not match the server's schema (a client built for another version). */
export class RecoderValidationError extends RecoderError {}
/** INTERNAL_SERVER_ERROR: the server failed unexpectedly (details are in its log). */
export class RecoderInternalServerError extends RecoderError {}

/** NETWORK_ERROR: no answer: connection refused or reset, DNS failure, the server went away mid-request. */
export class RecoderNetworkError extends RecoderError {}
/** TIMEOUT: no answer within `timeoutMs`. */
export class RecoderTimeoutError extends RecoderError {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, context: RecoderErrorContext = {}) {
    super(message, 'TIMEOUT', {}, context);
    this.timeoutMs = timeoutMs;
  }
}
/** BAD_RESPONSE: an answer that is not a GraphQL response (e.g. a proxy's HTML 502 page); `status` is its HTTP status. */
export class RecoderBadResponseError extends RecoderError {}

type ErrorClass = new (
  message: string,
  code: string,
  extensions?: Record<string, unknown>,
  context?: RecoderErrorContext,
) => RecoderError;

/** The class for each documented `extensions.code`. */
export const ERROR_CLASSES = {
  BAD_USER_INPUT: RecoderBadUserInputError,
  BATCH_EMPTY: RecoderBatchEmptyError,
  BATCH_TOO_LARGE: RecoderBatchTooLargeError,
  UNKNOWN_ITEMS: RecoderUnknownItemsError,
  NOT_FOUND: RecoderNotFoundError,
  NO_ACTIVE_MODEL: RecoderNoActiveModelError,
  NOT_IN_MODEL: RecoderNotInModelError,
  UNSUPPORTED_BY_MODEL: RecoderUnsupportedByModelError,
  UNAUTHENTICATED: RecoderUnauthenticatedError,
  FORBIDDEN: RecoderForbiddenError,
  RATE_LIMITED: RecoderRateLimitedError,
  SERVICE_UNAVAILABLE: RecoderServiceUnavailableError,
  RESPONSE_TOO_LARGE: RecoderResponseTooLargeError,
  BAD_REQUEST: RecoderBadRequestError,
  METHOD_NOT_ALLOWED: RecoderMethodNotAllowedError,
  UNSUPPORTED_MEDIA_TYPE: RecoderUnsupportedMediaTypeError,
  PAYLOAD_TOO_LARGE: RecoderPayloadTooLargeError,
  QUERY_TOO_COMPLEX: RecoderQueryTooComplexError,
  ALREADY_FINISHED: RecoderAlreadyFinishedError,
  CONFLICT: RecoderConflictError,
  GRAPHQL_VALIDATION_FAILED: RecoderValidationError,
  INTERNAL_SERVER_ERROR: RecoderInternalServerError,
} as const satisfies Record<string, ErrorClass>;

/** The server's documented error codes. */
export type RecoderErrorCode = keyof typeof ERROR_CLASSES;

/** The typed error for one entry of a response's `errors`. */
export function errorFromGraphQL(entry: GraphQLErrorEntry, context: RecoderErrorContext): RecoderError {
  const extensions = entry.extensions ?? {};
  const code = typeof extensions.code === 'string' ? extensions.code : 'INTERNAL_SERVER_ERROR';
  const Class: ErrorClass = (ERROR_CLASSES as Record<string, ErrorClass>)[code] ?? RecoderError;
  const prefix = context.operation ? `${context.operation}: ` : '';
  return new Class(`${prefix}${entry.message}`, code, extensions, context);
}

/** `retryAfterSeconds` (or `retryAfter`) of an error's extensions. */
function retryAfterOf(extensions: Record<string, unknown>): number | undefined {
  const v = extensions.retryAfterSeconds ?? extensions.retryAfter;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * Whether the server did not run the request at all, so sending it again is safe for any operation:
 * rate limited, admission refused, or no connection was made.
 */
export function isRefusedBeforeExecution(error: unknown): boolean {
  if (error instanceof RecoderRateLimitedError || error instanceof RecoderServiceUnavailableError) return true;
  return error instanceof RecoderNetworkError && error.extensions.connected === false;
}

/**
 * Whether a retry may succeed: no answer, a timeout, HTTP 429 / 5xx, RATE_LIMITED,
 * SERVICE_UNAVAILABLE or INTERNAL_SERVER_ERROR (e.g. the database restarting under the server).
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof RecoderError)) return false;
  if (error instanceof RecoderNetworkError || error instanceof RecoderTimeoutError) return true;
  if (
    error instanceof RecoderRateLimitedError ||
    error instanceof RecoderServiceUnavailableError ||
    error instanceof RecoderInternalServerError
  )
    return true;
  if (error instanceof RecoderBadResponseError)
    return error.status === undefined || error.status === 429 || error.status >= 500;
  return false;
}
