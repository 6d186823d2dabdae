import { Logger, NotFoundException } from '@nestjs/common';
import { GraphQLError } from 'graphql';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { formatExecutionErrors, toFormattedError } from './error-mapping.js';

describe('error mapping', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['error', 'warn', 'log']));

  it('keeps a DomainError message, code, field and details', () => {
    const error = new GraphQLError('x', {
      originalError: new DomainError(ErrorCode.UNKNOWN_ITEMS, 'unknown item "a"', 'interactions[0].itemId', {
        ids: ['a'],
      }),
    });
    expect(toFormattedError(error)).toMatchObject({
      message: 'unknown item "a"',
      extensions: { code: 'UNKNOWN_ITEMS', field: 'interactions[0].itemId', ids: ['a'] },
    });
  });

  it('hides unexpected errors behind INTERNAL_SERVER_ERROR', () => {
    const error = new GraphQLError('x', { originalError: new Error('connection string postgres://secret') });
    const formatted = toFormattedError(error);
    expect(formatted).toMatchObject({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(JSON.stringify(formatted)).not.toContain('secret');
  });

  it('maps Nest HTTP exceptions and schema validation errors', () => {
    expect(
      toFormattedError(new GraphQLError('x', { originalError: new NotFoundException('gone') })).extensions?.code,
    ).toBe('NOT_FOUND');
    expect(toFormattedError(new GraphQLError('Cannot query field "password" on type "User".')).extensions?.code).toBe(
      'GRAPHQL_VALIDATION_FAILED',
    );
  });

  it('answers 400 for request errors and 200 with data for execution errors', () => {
    expect(formatExecutionErrors({ errors: [new GraphQLError('Syntax Error')] }).statusCode).toBe(400);
    const exec = formatExecutionErrors({
      data: { item: null },
      errors: [
        new GraphQLError('x', { originalError: new DomainError(ErrorCode.NOT_FOUND, 'Item "a" not found', 'id') }),
      ],
    });
    expect(exec.statusCode).toBe(200);
    expect(exec.response.data).toEqual({ item: null });
  });
});
