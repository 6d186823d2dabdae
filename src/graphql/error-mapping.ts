import { HttpException, Logger } from '@nestjs/common';
import { GraphQLError, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '../common/domain-error.js';

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
    const code = status === 404 ? ErrorCode.NOT_FOUND : status < 500 ? ErrorCode.BAD_USER_INPUT : ErrorCode.INTERNAL_SERVER_ERROR;
    return { message: original.message, ...location, extensions: { code } };
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

/**
 * Mercurius errorFormatter: every error gets `extensions.code` (and `field` when an input is to
 * blame). Request-level failures (parse/validation) keep HTTP 400; execution errors answer 200
 * with `data` alongside `errors`, as GraphQL-over-HTTP expects for application/json.
 */
export function formatExecutionErrors(execution: ExecutionResult & { errors: readonly GraphQLError[] }): {
  statusCode: number;
  response: ExecutionResult;
} {
  const errors = execution.errors.map((e) => {
    const f = toFormattedError(e);
    return new GraphQLError(f.message, {
      nodes: e.nodes,
      source: e.source,
      positions: e.positions,
      path: e.path,
      extensions: f.extensions,
    });
  });
  const requestError = execution.data === undefined && execution.errors.every((e) => !e.originalError);
  return {
    statusCode: requestError ? 400 : 200,
    response: execution.data === undefined ? { errors } : { data: execution.data, errors },
  };
}
