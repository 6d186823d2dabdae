import { buildSchema, parse } from 'graphql';
import { jitSafe } from './jit-gate.js';

const schema = buildSchema(`
  enum Kind { A B }
  input Filter { categories: [String!], includeSeen: Boolean! = false }
  type Item { id: ID! }
  type Query { recs(userId: ID!, limit: Int, kind: Kind, ids: [ID!], filter: Filter): [Item!]! }
  type Mutation { record(ids: [ID!]!): Int! }
`);

describe('jitSafe', () => {
  it('compiles queries whose variables are scalars, enums and lists of them', () => {
    expect(jitSafe(schema, parse('{ recs(userId: "u") { id } }'))).toBe(true);
    expect(
      jitSafe(
        schema,
        parse(
          'query($u: ID!, $n: Int, $k: Kind, $ids: [ID!]) { recs(userId: $u, limit: $n, kind: $k, ids: $ids) { id } }',
        ),
      ),
    ).toBe(true);
  });

  it('interprets input objects (variables or literals) and mutations with graphql-js', () => {
    // graphql-jit 0.8.9 drops the input fields' defaults (includeSeen) of variables.
    expect(jitSafe(schema, parse('query($f: Filter) { recs(userId: "u", filter: $f) { id } }'))).toBe(false);
    expect(jitSafe(schema, parse('query($f: [Filter]) { recs(userId: "u") { id } }'))).toBe(false);
    expect(jitSafe(schema, parse('{ recs(userId: "u", filter: { categories: ["x"] }) { id } }'))).toBe(false);
    expect(jitSafe(schema, parse('mutation { record(ids: ["a"]) }'))).toBe(false);
  });

  it('judges the named operation of a document with several, and none without a name', () => {
    const doc = parse(
      'query A { recs(userId: "u") { id } } query B($f: Filter) { recs(userId: "u", filter: $f) { id } }',
    );
    expect(jitSafe(schema, doc, 'A')).toBe(true);
    expect(jitSafe(schema, doc, 'B')).toBe(false);
    expect(jitSafe(schema, doc)).toBe(false); // ambiguous: graphql-js reports it
    expect(jitSafe(schema, doc, 'C')).toBe(false);
    expect(jitSafe(schema, parse('query($x: Unknown) { recs(userId: "u") { id } }'))).toBe(false);
  });

  it('caches the verdict per document and operation name', () => {
    const doc = parse('query A { recs(userId: "u") { id } }');
    expect(jitSafe(schema, doc, 'A')).toBe(true);
    expect(jitSafe(schema, doc, 'A')).toBe(true);
    expect(jitSafe(schema, doc, 'Z')).toBe(false);
  });
});
