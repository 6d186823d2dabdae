import { checkGetOperation, checkRequestParameters, isJsonContentType, negotiateMediaType } from './http-gate.js';
import { stripSuggestions } from './error-mapping.js';

const GR = 'application/graphql-response+json';

describe('GraphQL over HTTP helpers', () => {
  it('negotiates the response media type from Accept (q, then order; wildcards mean application/json)', () => {
    expect(negotiateMediaType(undefined)).toBe('application/json');
    expect(negotiateMediaType('')).toBe('application/json');
    expect(negotiateMediaType(GR)).toBe(GR);
    expect(negotiateMediaType(`${GR}, application/json`)).toBe(GR);
    expect(negotiateMediaType(`application/json, ${GR}`)).toBe('application/json');
    expect(negotiateMediaType(`application/json;q=0.5, ${GR};q=0.9`)).toBe(GR);
    expect(negotiateMediaType(`${GR};q=0, */*`)).toBe('application/json');
    expect(negotiateMediaType('text/html, application/xhtml+xml')).toBe('application/json');
    expect(negotiateMediaType(`APPLICATION/GRAPHQL-RESPONSE+JSON ; charset=utf-8`)).toBe(GR);
    expect(negotiateMediaType(';q=x, ,')).toBe('application/json');
  });

  it('accepts only application/json bodies, in utf-8', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON; charset=UTF-8')).toBe(true);
    expect(isJsonContentType('application/json; charset="utf-8"')).toBe(true);
    for (const t of [
      undefined,
      '',
      'application/graphql',
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/json; charset=latin1',
      'application/jsonx',
    ]) {
      expect(isJsonContentType(t)).toBe(false);
    }
  });

  it('checks the request parameters and drops null maps', () => {
    const body: Record<string, unknown> = { query: '{ a }', variables: null, extensions: null, operationName: null };
    checkRequestParameters(body, 'POST');
    expect(body).toEqual({ query: '{ a }', operationName: null });
    expect(() => checkRequestParameters({ query: 1 }, 'POST')).toThrow(/"query" must be a string/);
    expect(() => checkRequestParameters({ query: '{ a }', variables: [] }, 'POST')).toThrow(
      /"variables" must be a map/,
    );
    expect(() => checkRequestParameters([], 'POST')).toThrow(/Batched/);
    const get: Record<string, unknown> = { query: '{ a }', variables: 'null', extensions: '{"x":1}' };
    checkRequestParameters(get, 'GET');
    expect(get).toEqual({ query: '{ a }', extensions: '{"x":1}' });
    expect(() => checkRequestParameters({ query: '{ a }', variables: '[1]' }, 'GET')).toThrow(
      /"variables" must be a map/,
    );
    expect(() => checkRequestParameters({ query: '{ a }', variables: '{' }, 'GET')).toThrow(/not valid JSON/);
    expect(() => checkRequestParameters({ query: ['a', 'b'] }, 'GET')).toThrow(/"query" must be a string/);
  });

  it('finds the operation of a GET: queries only, named when there are several', () => {
    expect(() => checkGetOperation({ query: '{ a }' }, 100)).not.toThrow();
    expect(() => checkGetOperation({ query: '{' }, 100)).not.toThrow(); // a syntax error is Mercurius' to report
    expect(() => checkGetOperation({ query: 'mutation { a }' }, 100)).toThrow(
      expect.objectContaining({ statusCode: 405 }),
    );
    expect(() => checkGetOperation({ query: 'query A { a } mutation B { b }', operationName: 'B' }, 100)).toThrow(
      expect.objectContaining({ statusCode: 405 }),
    );
    expect(() => checkGetOperation({ query: 'query A { a } mutation B { b }', operationName: 'A' }, 100)).not.toThrow();
    expect(() => checkGetOperation({ query: 'query A { a }', operationName: 'Z' }, 100)).toThrow(
      /no operation named "Z"/,
    );
    expect(() => checkGetOperation({ query: 'query A { a } query B { b }' }, 100)).toThrow(/several operations/);
  });

  it('strips "Did you mean" hints', () => {
    expect(stripSuggestions('Cannot query field "itemz" on type "Query". Did you mean "item" or "items"?')).toBe(
      'Cannot query field "itemz" on type "Query".',
    );
    expect(
      stripSuggestions('Value "READR" does not exist in "ApiRole" enum. Did you mean the enum value "READER"?'),
    ).toBe('Value "READR" does not exist in "ApiRole" enum.');
    expect(stripSuggestions('Unknown argument "idd" on field "Query.item".')).toBe(
      'Unknown argument "idd" on field "Query.item".',
    );
  });
});
