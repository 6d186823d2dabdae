import 'reflect-metadata';
import { buildSchema, parse, type GraphQLObjectType } from 'graphql';
import { EXPERIMENT_ARMS_COST, ONLINE_METRICS_COST } from '../experiments/experiments.resolver.js';
import { ITEM_IMAGE_COST, ITEM_IMAGE_PNG_COST } from '../images/item-images.resolver.js';
import { costLimitError, operationCost } from './query-cost.js';
import { buildApiSchema } from './schema-file.js';

const schema = buildSchema(`
  type Item { id: ID! title: String! tags: [String!]! }
  type SyntheticUser { items: [Item!]! }
  type Recs { items: [Rec!]! }
  type Rec { score: Float! item: Item! }
  type Query {
    sample(count: Int!, itemsPerUser: Int!): [SyntheticUser!]!
    recs(userId: ID!, limit: Int = 20): Recs!
    forHistory(itemIds: [ID!]!, limit: Int = 20): Recs!
    page(first: Int): [Item!]!
    status: String!
  }
`);

const cost = (query: string, variables: Record<string, unknown> = {}, operationName?: string) =>
  operationCost(schema, parse(query), variables, operationName, { defaultListSize: 100 });

describe('operationCost', () => {
  it('counts what a field returns: count × itemsPerUser, limit, first', () => {
    // sample: 2, items: 2 + id 1 + title 1, per user's item → 2 + 100 × 1000 × 4.
    expect(cost('{ sample(count: 100, itemsPerUser: 1000) { items { id title } } }')).toBe(2 + 100 * 1000 * 4);
    expect(cost('{ sample(count: 1, itemsPerUser: 1) { items { id } } }')).toBe(2 + 3);
    // recs 2 + limit × (items 2 + score 1 + item 2 + id 1).
    expect(cost('{ recs(userId: "u", limit: 50) { items { score item { id } } } }')).toBe(2 + 50 * 6);
    expect(cost('{ page(first: 10) { id } }')).toBe(2 + 10);
  });

  it('uses variables, schema defaults, and the largest page for a size that is neither', () => {
    const q = 'query($c: Int!, $k: Int!) { sample(count: $c, itemsPerUser: $k) { items { id } } }';
    expect(cost(q, { c: 3, k: 7 })).toBe(2 + 21 * 3);
    expect(cost(q, { c: 100, k: 1000 })).toBe(2 + 100_000 * 3);
    expect(cost('{ recs(userId: "u") { items { score } } }')).toBe(2 + 20 * 3);
    expect(cost('{ page { id } }')).toBe(2 + 100);
    expect(cost('query($n: Int) { page(first: $n) { id } }', {})).toBe(2 + 100);
  });

  it('adds the length of list arguments and multiplies aliases, fragments and inline fragments', () => {
    const ids = Array.from({ length: 50 }, (_, k) => String(k));
    expect(cost('query($h: [ID!]!) { forHistory(itemIds: $h, limit: 1) { items { score } } }', { h: ids })).toBe(
      2 + 50 + 3,
    );
    const one = cost('{ recs(userId: "u", limit: 10) { items { score } } }');
    expect(
      cost(
        '{ a: recs(userId: "u", limit: 10) { items { score } } b: recs(userId: "v", limit: 10) { items { score } } }',
      ),
    ).toBe(2 * one);
    expect(cost('{ recs(userId: "u", limit: 10) { ...R } } fragment R on Recs { items { score } }')).toBe(one);
    expect(cost('{ recs(userId: "u", limit: 10) { ... on Recs { items { score } } } }')).toBe(one);
  });

  it('computes a document once when no variable can change its cost, and per request otherwise', () => {
    const options = { defaultListSize: 100 };
    // The same parsed document, as Mercurius' cache hands it back for a repeated query.
    const byId = parse('query($u: ID!) { recs(userId: $u, limit: 5) { items { score } } }');
    expect(operationCost(schema, byId, { u: 'a' }, undefined, options)).toBe(2 + 5 * 3);
    expect(operationCost(schema, byId, { u: 'b' }, undefined, options)).toBe(2 + 5 * 3);
    expect(operationCost(schema, byId, { u: 'a' }, undefined, { defaultListSize: 7 })).toBe(2 + 5 * 3);
    const byLimit = parse('query($u: ID!, $l: Int) { recs(userId: $u, limit: $l) { items { score } } }');
    expect(operationCost(schema, byLimit, { u: 'a', l: 3 }, undefined, options)).toBe(2 + 3 * 3);
    expect(operationCost(schema, byLimit, { u: 'a', l: 50 }, undefined, options)).toBe(2 + 50 * 3);
    expect(operationCost(schema, byLimit, { u: 'a' }, undefined, options)).toBe(2 + 20 * 3);
    const byList = parse('query($h: [ID!]!) { forHistory(itemIds: $h, limit: 1) { items { score } } }');
    expect(operationCost(schema, byList, { h: ['1'] }, undefined, options)).toBe(2 + 1 + 3);
    expect(operationCost(schema, byList, { h: ['1', '2', '3'] }, undefined, options)).toBe(2 + 3 + 3);
    // A literal list of id variables has the literal's length.
    const literal = parse('query($a: ID!, $b: ID) { forHistory(itemIds: [$a, $b], limit: 1) { items { score } } }');
    expect(operationCost(schema, literal, { a: '1', b: '2' }, undefined, options)).toBe(2 + 2 + 3);
    expect(operationCost(schema, literal, { a: '1', b: null }, undefined, options)).toBe(2 + 2 + 3);
    // Named operations of one document are costed apart.
    const two = parse(
      'query A($u: ID!) { status } query B($u: ID!) { recs(userId: $u, limit: 2) { items { score } } }',
    );
    expect(operationCost(schema, two, { u: 'a' }, 'A', options)).toBe(1);
    expect(operationCost(schema, two, { u: 'a' }, 'B', options)).toBe(2 + 2 * 3);
    expect(operationCost(schema, two, { u: 'a' }, 'A', options)).toBe(1);
  });

  it('costs the named operation only; introspection and unknown fields cost nothing', () => {
    const doc = 'query A { status } query B { sample(count: 10, itemsPerUser: 10) { items { id } } }';
    expect(cost(doc, {}, 'A')).toBe(1);
    expect(cost(doc, {}, 'B')).toBe(2 + 300);
    expect(cost('{ __schema { types { name } } __typename nope }')).toBe(0);
  });

  it('charges a field that declares its own complexity that much, whatever its limit and sub-selection', () => {
    const withMap = buildSchema(`
      type Map { ids: [ID!]! xs: [Float!]! }
      type Query { map(limit: Int = 20000): Map! }
    `);
    // Parsed for each call: a document's cost is kept once computed, and a served schema never changes.
    const q = () => parse('{ a: map(limit: 20000) { ids xs } b: map { ids } }');
    // Undeclared: every list field counted `limit` times.
    expect(operationCost(withMap, q(), {}, undefined, { defaultListSize: 100 })).toBe(2 + 20_000 * 2 + 2 + 20_000);
    withMap.getQueryType()!.getFields().map.extensions = { complexity: 2_000 };
    expect(operationCost(withMap, q(), {}, undefined, { defaultListSize: 100 })).toBe(2 * 2_000);
  });

  it("adds a field's declared own cost (extensions.cost) and still counts its sub-selection", () => {
    const withImage = buildSchema(`
      type Image { size: Int! png: String }
      type Item { id: ID! image: Image }
      type Query { page(first: Int): [Item!]! }
    `);
    // Parsed for each call, as above.
    const q = () => parse('{ page(first: 10) { id image { size png } } }');
    expect(operationCost(withImage, q(), {}, undefined, { defaultListSize: 100 })).toBe(2 + 10 * (1 + 2 + 1 + 1));
    const item = withImage.getType('Item') as GraphQLObjectType;
    const image = withImage.getType('Image') as GraphQLObjectType;
    item.getFields().image.extensions = { cost: 25 };
    image.getFields().png.extensions = { cost: 100 };
    expect(operationCost(withImage, q(), {}, undefined, { defaultListSize: 100 })).toBe(2 + 10 * (1 + 25 + 1 + 100));
  });

  it("knows the images' costs in the API's own schema", async () => {
    const api = await buildApiSchema();
    const q = parse('{ searchItems(query: "a", limit: 10) { id image { size png } } }');
    expect(operationCost(api, q, {}, undefined, { defaultListSize: 100 })).toBe(
      2 + 10 * (1 + ITEM_IMAGE_COST + 1 + ITEM_IMAGE_PNG_COST),
    );
  });

  it("knows the experiment fields' costs in the API's own schema: metrics flat, experiments × limit, arms inputs by length", async () => {
    const api = await buildApiSchema();
    const c = (q: string, v: Record<string, unknown> = {}) =>
      operationCost(api, parse(q), v, undefined, { defaultListSize: 100 });
    expect(
      c(
        '{ onlineMetrics(versionId: 1, since: "2026-01-01T00:00:00Z", k: 1000) { impressions ctr { rate } conversions { kind } } }',
      ),
    ).toBe(ONLINE_METRICS_COST);
    // experiments: 2, then per experiment (limit 50): id 1 + arms (flat, sub-selection included).
    expect(c('{ experiments(limit: 50) { id arms(k: 10) { arm metrics { impressions } } } }')).toBe(
      2 + 50 * (1 + EXPERIMENT_ARMS_COST),
    );
    expect(c('{ experiments { id } }')).toBe(2 + 20);
    const arms = Array.from({ length: 8 }, (_, k) => ({ versionId: k + 1, weight: 1 }));
    // A mutation's input lists are bounded by the batch size, not counted.
    expect(c('mutation($a: [ExperimentArmInput!]!) { startExperiment(arms: $a) { id } }', { a: arms })).toBe(2 + 1);
  });

  it('words its error like the validation-time estimate', () => {
    expect(costLimitError(20000, 400002.5).message).toBe('Query Cost limit of 20000 exceeded, found 400003.');
  });
});
