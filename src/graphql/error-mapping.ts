import { HttpException, Logger } from '@nestjs/common';
import { GraphQLError, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode, withoutStack } from '../common/domain-error.js';

const logger = new Logger('GraphQLErrors');

/** Turns any error raised while answering a request into a client-facing GraphQL error. */
export function toFormattedError(error: GraphQLError | Error): GraphQLFormattedError {
  const gqlError = error instanceof GraphQLError ? error : undefined;
  const original = gqlError?.originalError ?? (gqlError ? undefined : error);
  const location = gqlError ? { locations: gqlError.locations, path: gqlError.path } : {};

  if (original instanceof DomainError) {
    return {
      message: original.message,
      ...location,
      extensions: { code: original.code, ...(original.field ? { field: original.field } : {}), ...original.details },
    };
  }
  if (original instanceof HttpException) {
    const status = original.getStatus();
    const code =
      status === 404 ? ErrorCode.NOT_FOUND : status < 500 ? ErrorCode.BAD_USER_INPUT : ErrorCode.INTERNAL_SERVER_ERROR;
    return { message: original.message, ...location, extensions: { code } };
  }
  const variable = gqlError ? /^Variable "\$(\w+)" got invalid value .*? at "([^"]+)"/.exec(gqlError.message) : null;
  if (
    gqlError &&
    (variable || /^Variable "\$\w+" (got invalid value|of required type|of non-null type)/.test(gqlError.message))
  ) {
    // Variable coercion: graphql-js names the path inside the variable ("interactions[0].kind").
    return {
      message: gqlError.message,
      ...location,
      extensions: { code: ErrorCode.BAD_USER_INPUT, ...(variable ? { field: variable[2] } : {}) },
    };
  }
  if (gqlError && !original) {
    // Parse, validation and variable-coercion errors: graphql-js names the argument or field.
    return { message: gqlError.message, ...location, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } };
  }
  if (gqlError && original instanceof GraphQLError) {
    // A scalar's parseValue/parseLiteral rejected a value (e.g. a malformed DateTime).
    return { message: gqlError.message, ...location, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  if (gqlError && original && /^(Expected|Value|Int cannot|Float cannot|Variable ")/.test(original.message)) {
    return { message: gqlError.message, ...location, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  logger.error(original?.stack ?? String(original ?? error));
  return { message: 'Internal server error', ...location, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}

/** Thrown by the rate limiter (src/graphql/rate-limit.ts); answered as HTTP 429, code RATE_LIMITED. */
export class RateLimitError extends Error {
  readonly statusCode = 429;
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'RateLimitError';
  }
}

/**
 * A request refused at the HTTP level before GraphQL sees it (src/graphql/http-gate.ts): no valid API
 * key (401), a malformed request (400), a mutation over GET (405), a body too large (413) or not
 * JSON (415). Answered with its status and code; never logged (a client's mistake, not a fault).
 */
export class HttpRequestError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HttpRequestError';
  }
}

/** Fastify's and Mercurius' own 4xx rejections whose status says more than 400: method, size, media type. */
const HTTP_REJECTIONS: Record<string, [number, ErrorCode, string?]> = {
  MER_ERR_METHOD_NOT_ALLOWED: [
    405,
    ErrorCode.METHOD_NOT_ALLOWED,
    'Mutations need POST: a GET request may only run queries',
  ],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, ErrorCode.PAYLOAD_TOO_LARGE],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, ErrorCode.UNSUPPORTED_MEDIA_TYPE],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, ErrorCode.BAD_REQUEST],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, ErrorCode.BAD_REQUEST],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, ErrorCode.BAD_REQUEST],
};

function httpRejection(errors: readonly GraphQLError[]): HttpRequestError | undefined {
  for (const e of errors) {
    const o = e.originalError as { code?: unknown; message?: string } | undefined;
    if (o instanceof HttpRequestError) return o;
    const known = typeof o?.code === 'string' ? HTTP_REJECTIONS[o.code] : undefined;
    if (known) return new HttpRequestError(known[0], known[1], known[2] ?? o!.message ?? e.message);
  }
  return undefined;
}

/** graphql-js' "Did you mean …?" hints name schema elements: dropped when introspection is off. */
export const stripSuggestions = (message: string): string => message.replace(/\s*Did you mean [^]*\?$/, '');

/** A document over a limit: our depth rule (query-depth.ts) or a graphql-armor rule (aliases, directives, cost). */
function isLimitViolation(e: GraphQLError): boolean {
  if (e.originalError) return false;
  return (
    e.extensions?.code === ErrorCode.QUERY_TOO_COMPLEX ||
    /^(Syntax Error: )?(Aliases|Directives|Query Cost) limit of \d+ exceeded/.test(e.message)
  );
}

/**
 * Request rejections before execution, 4xx FastifyErrors: Mercurius' own (query depth, malformed
 * query) with MER_ codes, and Fastify's body parsing (invalid or too-large JSON body) with FST_ codes.
 */
function isRequestRejection(e: GraphQLError): boolean {
  const o = e.originalError as { code?: unknown; statusCode?: unknown } | undefined;
  return (
    typeof o?.code === 'string' &&
    /^(MER|FST)_ERR/.test(o.code) &&
    typeof o.statusCode === 'number' &&
    o.statusCode < 500
  );
}

/**
 * Mercurius errorFormatter: every error gets `extensions.code` (and `field` when an input is to
 * blame). Request-level failures (parse/validation) keep HTTP 400; execution errors answer 200
 * with `data` alongside `errors`, as GraphQL-over-HTTP expects for application/json.
 */
export function formatExecutionErrors(
  execution: ExecutionResult & { errors: readonly GraphQLError[] },
  context?: { reply?: { header(name: string, value: string): unknown } },
  options: { suggestions?: boolean } = {},
): {
  statusCode: number;
  response: ExecutionResult;
} {
  const refused = httpRejection(execution.errors);
  if (refused)
    return {
      statusCode: refused.statusCode,
      response: { errors: [new GraphQLError(refused.message, { extensions: { code: refused.code } })] },
    };
  const limited = execution.errors.find((e) => e.originalError instanceof RateLimitError)?.originalError as
    RateLimitError | undefined;
  if (limited) {
    const error = new GraphQLError(limited.message, {
      extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: limited.retryAfterSeconds },
    });
    return { statusCode: 429, response: { errors: [error] } };
  }
  // The model's queue is full (or a request outwaited its deadline): HTTP 503 with Retry-After, the
  // whole answer refused so that a client retries the request as a whole.
  const busy = execution.errors.find(
    (e) => e.originalError instanceof DomainError && e.originalError.code === ErrorCode.SERVICE_UNAVAILABLE,
  )?.originalError as DomainError | undefined;
  if (busy) {
    const retryAfterSeconds = Number(busy.details?.retryAfterSeconds ?? 1);
    context?.reply?.header('retry-after', String(retryAfterSeconds));
    const error = withoutStack(
      () =>
        new GraphQLError(busy.message, {
          extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, retryAfterSeconds },
        }),
    );
    return { statusCode: 503, response: { errors: [error] } };
  }
  // Mercurius wraps query validation failures in one FastifyError whose `errors` holds them.
  const flat = execution.errors.flatMap((e) => {
    const inner = (e.originalError as { errors?: unknown } | undefined)?.errors;
    return Array.isArray(inner)
      ? inner.map((x) =>
          // The stack overflowed parsing or validating (a JSON literal's parseLiteral) a document nested thousands deep.
          x instanceof RangeError || (x instanceof GraphQLError && x.originalError instanceof RangeError)
            ? new GraphQLError('Syntax Error: the document is nested too deeply')
            : x instanceof GraphQLError
              ? x
              : new GraphQLError(String((x as Error).message ?? x), {
                  originalError: x instanceof Error ? x : undefined,
                }),
        )
      : [e];
  });
  const errors = flat.map((e) => {
    const f = isLimitViolation(e)
      ? { message: e.message.replace(/^Syntax Error: /, ''), extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } }
      : isRequestRejection(e)
        ? { message: e.message, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } }
        : toFormattedError(e);
    return new GraphQLError(options.suggestions === false ? stripSuggestions(f.message) : f.message, {
      nodes: e.nodes,
      source: e.source,
      positions: e.positions,
      path: e.path,
      extensions: f.extensions,
    });
  });
  const requestError =
    execution.data == null &&
    flat.every(
      (e) => !e.originalError || isLimitViolation(e) || isRequestRejection(e) || e.message.startsWith('Variable "$'),
    );
  return {
    statusCode: requestError ? 400 : 200,
    response: execution.data === undefined ? { errors } : { data: execution.data, errors },
  };
}
