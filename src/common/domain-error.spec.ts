import { DomainError, ErrorCode, withoutStack } from './domain-error.js';

describe('withoutStack', () => {
  it('builds the error with its message and details but a one-line stack, and restores the stack limit', () => {
    const limit = Error.stackTraceLimit;
    const error = withoutStack(
      () => new DomainError(ErrorCode.SERVICE_UNAVAILABLE, 'busy: retry shortly', undefined, { retryAfterSeconds: 1 }),
    );
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    expect(error.details).toEqual({ retryAfterSeconds: 1 });
    expect(error.stack).toBe(`${error.name}: busy: retry shortly`);
    expect(Object.getOwnPropertyDescriptor(error, 'stack')).toMatchObject({ enumerable: false, writable: true });
    expect(Error.stackTraceLimit).toBe(limit);
    // Other errors still get their frames.
    expect(new Error('x').stack).toMatch(/\n\s+at /);
  });

  it('restores the stack limit when construction throws', () => {
    const limit = Error.stackTraceLimit;
    expect(() =>
      withoutStack(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
