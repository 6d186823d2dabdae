import { ErrorCode } from '../../../src/common/domain-error.js';
import {
  ERROR_CLASSES,
  RecoderError,
  RecoderNotFoundError,
  RecoderRateLimitedError,
  RecoderUnknownItemsError,
  errorFromGraphQL,
  isTransient,
} from '../src/errors.js';
import { parseResponse, parseRetryAfter, retryDelayMs } from '../src/transport.js';

const headers = (h: Record<string, string> = {}) => new Headers({ 'content-type': 'application/json', ...h });

describe('typed errors', () => {
  it('has a class for every extensions.code the server documents (src/common/domain-error.ts)', () => {
    const missing = Object.values(ErrorCode).filter((code) => !(code in ERROR_CLASSES));
    expect(missing).toEqual([]);
    for (const [code, Class] of Object.entries(ERROR_CLASSES)) {
      const error = errorFromGraphQL(
        { message: 'm', extensions: { code, field: 'x.y' } },
        { operation: 'Op', status: 200 },
      );
      expect(error).toBeInstanceOf(Class);
      expect(error).toBeInstanceOf(RecoderError);
      expect(error).toMatchObject({ code, field: 'x.y', operation: 'Op', status: 200, message: 'Op: m' });
      expect(error.name).toBe(Class.name);
      expect(Class.name).toMatch(/^Recoder[A-Za-z]+Error$/);
    }
  });

  it('carries the fields each code documents', () => {
    const unknown = errorFromGraphQL({ message: 'm', extensions: { code: 'UNKNOWN_ITEMS', ids: ['a', 'b'] } }, {});
    expect(unknown).toBeInstanceOf(RecoderUnknownItemsError);
    expect((unknown as RecoderUnknownItemsError).ids).toEqual(['a', 'b']);
    expect(errorFromGraphQL({ message: 'm', extensions: { code: 'NOT_FOUND', id: 'u1' } }, {})).toMatchObject({
      id: 'u1',
    });
    expect(
      errorFromGraphQL({ message: 'm', extensions: { code: 'FORBIDDEN', required: 'ADMIN', role: 'READER' } }, {}),
    ).toMatchObject({ required: 'ADMIN', role: 'READER' });
    expect(
      errorFromGraphQL({ message: 'm', extensions: { code: 'ALREADY_FINISHED', status: 'SUCCEEDED' } }, {}),
    ).toMatchObject({ runStatus: 'SUCCEEDED' });
    expect(
      errorFromGraphQL({ message: 'm', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 12 } }, {}),
    ).toMatchObject({ retryAfter: 12 });
    // The Retry-After header wins over the extension.
    expect(
      errorFromGraphQL(
        { message: 'm', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 12 } },
        { retryAfter: 3 },
      ),
    ).toMatchObject({ retryAfter: 3 });
    const future = errorFromGraphQL({ message: 'm', extensions: { code: 'SOMETHING_NEW', extra: 1 } }, {});
    expect(future.constructor).toBe(RecoderError);
    expect(future).toMatchObject({ code: 'SOMETHING_NEW', extensions: { code: 'SOMETHING_NEW', extra: 1 } });
  });

  it('reads both response shapes: 200 with errors (application/json) and 4xx with errors (application/graphql-response+json)', () => {
    const ok = parseResponse<{ a: number }>(200, headers(), '{"data":{"a":1}}');
    expect(ok).toEqual({ a: 1 });
    const in200 = (() => {
      try {
        parseResponse(
          200,
          headers(),
          JSON.stringify({
            data: null,
            errors: [{ message: 'no', path: ['user'], extensions: { code: 'NOT_FOUND', field: 'id', id: '9' } }],
          }),
          'User',
        );
      } catch (e) {
        return e;
      }
    })();
    expect(in200).toBeInstanceOf(RecoderNotFoundError);
    expect(in200).toMatchObject({ status: 200, path: ['user'], id: '9' });
    const in400 = (() => {
      try {
        parseResponse(
          400,
          headers({ 'content-type': 'application/graphql-response+json' }),
          JSON.stringify({ errors: [{ message: 'bad', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }),
        );
      } catch (e) {
        return e;
      }
    })();
    expect(in400).toMatchObject({ name: 'RecoderValidationError', status: 400 });
    const limited = (() => {
      try {
        parseResponse(
          429,
          headers({ 'retry-after': '17' }),
          JSON.stringify({ errors: [{ message: 'slow', extensions: { code: 'RATE_LIMITED' } }] }),
        );
      } catch (e) {
        return e;
      }
    })();
    expect(limited).toBeInstanceOf(RecoderRateLimitedError);
    expect(limited).toMatchObject({ retryAfter: 17, status: 429 });
    // Not GraphQL at all (a proxy's page): 429 / 503 still typed, others BAD_RESPONSE with the status.
    expect(() => parseResponse(429, headers({ 'retry-after': '2' }), 'Too Many Requests')).toThrow(
      RecoderRateLimitedError,
    );
    expect(() => parseResponse(503, headers(), '<html>down</html>')).toThrow(
      expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }),
    );
    const gateway = (() => {
      try {
        parseResponse(502, headers(), '<html>bad gateway</html>');
      } catch (e) {
        return e;
      }
    })();
    expect(gateway).toMatchObject({ code: 'BAD_RESPONSE', status: 502 });
    expect(isTransient(gateway)).toBe(true);
    expect(isTransient(errorFromGraphQL({ message: 'm', extensions: { code: 'BAD_USER_INPUT' } }, {}))).toBe(false);
  });

  it('parses Retry-After as seconds or an HTTP date, and waits for it before backing off', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(new Date(Date.UTC(2026, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(30);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
    const policy = { baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 10_000 };
    const limited = new RecoderRateLimitedError('m', 'RATE_LIMITED', {}, { retryAfter: 4 });
    expect(retryDelayMs(limited, 0, policy)).toBe(4000);
    expect(
      retryDelayMs(new RecoderRateLimitedError('m', 'RATE_LIMITED', {}, { retryAfter: 60 }), 0, policy),
    ).toBeUndefined();
    // Exponential backoff with jitter in [half, full] of min(max, base·2^n).
    expect(retryDelayMs(new Error('x'), 0, policy, () => 0)).toBe(50);
    expect(retryDelayMs(new Error('x'), 3, policy, () => 1)).toBe(800);
    expect(retryDelayMs(new Error('x'), 10, policy, () => 1)).toBe(1000);
  });
});
