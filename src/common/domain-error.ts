/** Stable, documented error codes clients can switch on (README "Errors"). */
export enum ErrorCode {
  /** A value is malformed or out of range; `field` names it. */
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  /** A batch argument is empty. */
  BATCH_EMPTY = 'BATCH_EMPTY',
  /** A batch argument is larger than the server's cap (RECODER_MAX_BATCH_SIZE). */
  BATCH_TOO_LARGE = 'BATCH_TOO_LARGE',
  /** recordInteractions referenced items the catalog does not have; `ids` lists them. */
  UNKNOWN_ITEMS = 'UNKNOWN_ITEMS',
  /** The user or item asked for does not exist. */
  NOT_FOUND = 'NOT_FOUND',
  /** The query needs a trained model and no model version is active. */
  NO_ACTIVE_MODEL = 'NO_ACTIVE_MODEL',
  /** The item exists but the serving model version has no vector for it (added after training). */
  NOT_IN_MODEL = 'NOT_IN_MODEL',
  /** The active model's kind cannot answer this (e.g. predictedRating on a Mult-VAE version). */
  UNSUPPORTED_BY_MODEL = 'UNSUPPORTED_BY_MODEL',
  /** No API key, a malformed Authorization header, or an unknown or revoked key. */
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  /** The API key's role is too weak for the operation; `required` and `role` say which. */
  FORBIDDEN = 'FORBIDDEN',
  /** Too many requests for this API key (or client address) in the current minute (HTTP 429). */
  RATE_LIMITED = 'RATE_LIMITED',
  /**
   * The server is at capacity: the queue in front of the model is full, or the request waited
   * longer than its deadline for it (HTTP 503, Retry-After and `retryAfterSeconds` say when to retry).
   */
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
  /** The answer would be larger than RECODER_MAX_RESPONSE_BYTES; ask for fewer items or fields. */
  RESPONSE_TOO_LARGE = 'RESPONSE_TOO_LARGE',
  /** The document exceeds a limit: depth, aliases, directives or estimated cost (HTTP 400). */
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  /** cancelTrainingRun on a run that already SUCCEEDED, FAILED or was CANCELLED, or stopExperiment on a stopped experiment; `status` says which. */
  ALREADY_FINISHED = 'ALREADY_FINISHED',
  /** The request conflicts with the current state: startExperiment while an experiment runs in the slot (`experimentId` names it). */
  CONFLICT = 'CONFLICT',
  /** The HTTP request is not a GraphQL request: invalid JSON, no string `query`, `variables` not an object, a batch (HTTP 400). */
  BAD_REQUEST = 'BAD_REQUEST',
  /** A mutation sent with GET (HTTP 405, `Allow: POST`). */
  METHOD_NOT_ALLOWED = 'METHOD_NOT_ALLOWED',
  /** A POST body that is not `application/json` (HTTP 415). */
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  /** A request body over the 16 MiB cap (HTTP 413). */
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  /** The query does not match the schema (wrong type, unknown field, missing argument). */
  GRAPHQL_VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED',
  /** Anything unexpected; details are logged, not returned. */
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

import { IntrinsicException } from '@nestjs/common';

/**
 * An expected failure with a stable code and, where one is to blame, the input field's path.
 * Extends Nest's IntrinsicException so the framework does not log it as a server error.
 */
export class DomainError extends IntrinsicException {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const notFound = (what: string, id: string, field: string) =>
  new DomainError(ErrorCode.NOT_FOUND, `${what} "${id}" not found`, field, { id });

/**
 * An error built without a stack trace, for refusals that come by the thousand under overload
 * (SERVICE_UNAVAILABLE): nothing is captured while it is constructed (Error.stackTraceLimit 0),
 * and its `stack` is a plain string, so that reading it (Mercurius wraps every error it answers,
 * copying the stack) formats nothing.
 */
export function withoutStack<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let error: E;
  try {
    error = make();
  } finally {
    Error.stackTraceLimit = limit;
  }
  Object.defineProperty(error, 'stack', {
    value: `${error.name}: ${error.message}`,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return error;
}
