import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { maxDepthRule } from './query-depth.js';

const schema = buildSchema(`
  type Query { user(id: ID!): User, users: [User!]! }
  type User { id: ID!, friends: [User!]!, best: User }
`);

const check = (query: string, limit: number) =>
  validate(schema, parse(query), [...specifiedRules, maxDepthRule(limit)]);
const depthErrors = (query: string, limit: number) =>
  check(query, limit).filter((e) => e.extensions.code === 'QUERY_TOO_COMPLEX');

describe('maxDepthRule', () => {
  it('counts nested field levels per operation and reports the operation over the limit', () => {
    expect(depthErrors('{ user(id: "1") { friends { id } } }', 3)).toEqual([]);
    const errors = depthErrors('query Deep { user(id: "1") { friends { best { id } } } }', 3);
    expect(errors.map((e) => e.message)).toEqual(['Deep query depth (4) exceeds the query depth limit of 3']);
    expect(
      depthErrors('{ a: users { id } b: user(id: "1") { best { best { best { id } } } } }', 4).map((e) => e.message),
    ).toEqual(['Anonymous query depth (5) exceeds the query depth limit of 4']);
  });

  it('counts the fields of fragments where they are spread; fragments themselves add no level', () => {
    const doc = `
      query Q { user(id: "1") { ...F } }
      fragment F on User { friends { ... on User { best { ...G } } } }
      fragment G on User { id }`;
    expect(depthErrors(doc, 4)).toEqual([]);
    expect(depthErrors(doc, 3).map((e) => e.message)).toEqual(['Q query depth (4) exceeds the query depth limit of 3']);
  });

  it('measures a fragment spread many times once (no exponential blow-up) and ignores cycles (reported by graphql)', () => {
    const fragments = Array.from(
      { length: 40 },
      (_, k) => `fragment F${k} on User { best { ...F${k + 1} } friends { ...F${k + 1} } }`,
    ).join('\n');
    const doc = `{ user(id: "1") { ...F0 } }\n${fragments}\nfragment F40 on User { id }`;
    const t0 = performance.now();
    expect(depthErrors(doc, 100)).toEqual([]);
    expect(depthErrors(doc, 41).map((e) => e.message)).toEqual([
      'Anonymous query depth (42) exceeds the query depth limit of 41',
    ]);
    expect(performance.now() - t0).toBeLessThan(5_000); // 2^40 paths if fragments were re-measured
    const cyclic = check(
      '{ user(id: "1") { ...A } } fragment A on User { best { ...B } } fragment B on User { best { ...A } }',
      10,
    );
    expect(cyclic.map((e) => e.message).join('\n')).toMatch(/Cannot spread fragment "A" within itself/);
  });

  it("leaves introspection out (GraphiQL's schema query, depth 15, passes a limit of 10) while graphql bounds its nesting", () => {
    const introspection = getIntrospectionQuery({
      descriptions: true,
      inputValueDeprecation: true,
      schemaDescription: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
    });
    expect(check(introspection, 10)).toEqual([]);
    expect(
      depthErrors(
        '{ __type(name: "User") { fields { type { ofType { name } } } } user(id: "1") { best { id } } }',
        2,
      ).map((e) => e.message),
    ).toEqual(['Anonymous query depth (3) exceeds the query depth limit of 2']);
    const cyclic = check(
      '{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }',
      10,
    );
    expect(cyclic.map((e) => e.message)).toEqual(['Maximum introspection depth exceeded']);
  });
});
