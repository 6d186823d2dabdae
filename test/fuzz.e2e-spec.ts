import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import fc from 'fast-check';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
} from 'graphql';
import { createApiKey } from '../src/auth/api-keys.queries.js';
import { PROJECT_ROOT } from '../src/config/env.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { bootApp, bootAppOn, CapturedLog, gql, sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { GROUPS, itemId, PER_GROUP, seedTasteGroups, trainTestVersion } from './training-data.js';
import { ExperimentsService } from '../src/experiments/experiments.service.js';

/**
 * Property-based fuzzing of every argument of every Query and Mutation field, and of the
 * argument-taking fields of object types (User.interactions), with fast-check against the real API
 * on a seeded database with an active model version. The operations and their argument types come
 * from the committed schema (schema.gql, which test/schema.e2e-spec.ts keeps equal to what the
 * server serves). Values are generated per GraphQL type: valid values, boundary values, hostile
 * strings, forged cursors, wrong types, huge lists, deep JSON, invalid enum names, input objects
 * with missing and extra fields; about a third of the cases are plausible requests that reach the
 * services and the model. Most values are sent as variables (so graphql-js coercion runs), some
 * inline in the query text. Per case: HTTP 200 or 400, every error has `extensions.code`, none is
 * INTERNAL_SERVER_ERROR, and the server still answers afterwards. Other codes (UNAUTHENTICATED,
 * FORBIDDEN, RATE_LIMITED with HTTP 429...) are accepted answers; auth and rate limits are off here.
 * The deletion mutations never see the seeded ids; trainModel runs stay QUEUED (no worker) and are
 * truncated afterwards.
 *
 * Reproduce a failure: the report names the operation, the seed and the path; set FUZZ_SEED to
 * change the base seed, FUZZ_CASES the total number of cases.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_260_601);
const TOTAL_CASES = Number(process.env.FUZZ_CASES ?? 2_200);

const schema = buildSchema(readFileSync(path.join(PROJECT_ROOT, 'schema.gql'), 'utf8'));

interface Operation {
  kind: 'query' | 'mutation';
  /** `recommendations`, or `User.interactions` for an argument-taking field of an object type. */
  name: string;
  field: GraphQLField<unknown, unknown>;
  /** For a field of an object type: the root field that reaches it, e.g. `user(id: "u1")`. */
  parent?: string;
  /** Argument leaves, nested input fields included (the weight of the operation). */
  paths: string[];
}

function inputPaths(prefix: string, type: GraphQLInputType, seen: Set<string> = new Set()): string[] {
  const named = getNamedType(type);
  if (!isInputObjectType(named) || seen.has(named.name)) return [prefix];
  const next = new Set(seen).add(named.name);
  return [prefix, ...Object.values(named.getFields()).flatMap((f) => inputPaths(`${prefix}.${f.name}`, f.type, next))];
}

const operations: Operation[] = (['query', 'mutation'] as const).flatMap((kind) => {
  const root = kind === 'query' ? schema.getQueryType() : schema.getMutationType();
  return Object.values(root?.getFields() ?? {}).map((field) => ({
    kind,
    name: field.name,
    field,
    paths: field.args.flatMap((a) => inputPaths(a.name, a.type)),
  }));
});
/** How to reach an object type from Query, to fuzz the arguments of its fields (User.interactions). */
const PARENTS: Record<string, string> = { User: 'user(id: "u1")', Experiment: 'experiments(limit: 3)' };
const roots = new Set([schema.getQueryType()?.name, schema.getMutationType()?.name]);
for (const type of Object.values(schema.getTypeMap())) {
  if (!isObjectType(type) || type.name.startsWith('__') || roots.has(type.name)) continue;
  for (const field of Object.values(type.getFields())) {
    if (field.args.length === 0) continue;
    operations.push({
      kind: 'query',
      name: `${type.name}.${field.name}`,
      field,
      parent: PARENTS[type.name],
      paths: field.args.flatMap((a) => inputPaths(a.name, a.type)),
    });
  }
}
const totalWeight = operations.reduce((s, op) => s + 1 + op.paths.length, 0);
const runsFor = (op: Operation) => Math.max(12, Math.ceil((TOTAL_CASES * (1 + op.paths.length)) / totalWeight));

// ---------------------------------------------------------------------------------------------
// The seeded world: ids that exist, so valid values reach the services and the model.

const KNOWN_USERS = ['u0', 'u1', 'u2', 'u7', 'u42', 'u159'];
const KNOWN_ITEMS = [itemId(0, 0), itemId(1, 3), itemId(2, 29), itemId(3, 7), 'fresh'];
const CATEGORIES = ['g0', 'g1', 'g2', 'g3'];
/** Seeded users and items: the deletion mutations only ever see other ids. */
const PROTECTED = new Set<string>(['fresh']);
for (let u = 0; u < 160; u++) PROTECTED.add(`u${u}`);
for (let g = 0; g < GROUPS; g++) for (let i = 0; i < PER_GROUP; i++) PROTECTED.add(itemId(g, i));
const DESTRUCTIVE = new Set(['deleteUser', 'deleteItem']);

// ---------------------------------------------------------------------------------------------
// Values per GraphQL type.

/** A JSON value nested `depth` levels deep, serialized as text (JSON.stringify itself overflows). */
class Deep {
  constructor(
    readonly depth: number,
    readonly array: boolean,
  ) {}
  json(): string {
    return this.array
      ? '['.repeat(this.depth) + '1' + ']'.repeat(this.depth)
      : '{"a":'.repeat(this.depth) + '{}' + '}'.repeat(this.depth);
  }
  literal(): string {
    return this.array
      ? '['.repeat(this.depth) + '1' + ']'.repeat(this.depth)
      : '{a: '.repeat(this.depth) + '{}' + '}'.repeat(this.depth);
  }
  toJSON(): string {
    return `<deep ${this.array ? 'array' : 'object'} of depth ${this.depth}>`;
  }
}

const SQL = [
  "'; DROP TABLE items; --",
  "1' OR '1'='1",
  '"; DELETE FROM users; --',
  "' || pg_sleep(5) || '",
  '$1',
  '%',
  '_',
  '\\',
  '*/ SELECT 1 /*',
];
const NASTY = [
  '',
  ' ',
  ' padded ',
  '\t',
  '\n',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDC00',
  '\uDBFF\uDFFF',
  '\uFEFF',
  '\u202Eevil',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '1e308',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'toString',
  '😀'.repeat(200),
  'é'.repeat(257),
  'ß',
  '%00',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
];
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const CURSOR_NUMBERS = [
  0,
  -1,
  1,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  8.64e15,
  8.64e15 + 1,
  -8.64e15 - 1,
  1.5,
];
const CURSOR_IDS = ['0', '1', '-1', '9223372036854775807', '9223372036854775808', '9999999999999999999', 'abc', ''];
/** Cursors: forged ones with boundary numbers (the API must reject or bound them), and garbage. */
const cursorArb = fc.oneof(
  fc.constantFrom(...CURSOR_NUMBERS).map((n) => b64([n])),
  fc.tuple(fc.constantFrom(...CURSOR_NUMBERS), fc.constantFrom(...CURSOR_IDS)).map(([t, id]) => b64([t, id])),
  fc.constantFrom(b64([]), b64({}), b64('x'), b64([1, 2, 3]), b64(['1']), b64([null]), '!!!', '====', 'eyJ'),
);

const wrongType = fc.constantFrom<unknown>('5', 'NaN', 'Infinity', '', true, false, [], {}, [1], { a: 1 }, 1.5, -1);
const hugeString = fc.constantFrom(256, 257, 1024, 1025, 10_000, 100_000).map((n) => 'x'.repeat(n));
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.constantFrom(...SQL) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: cursorArb },
);

function stringFor(hint: string): fc.Arbitrary<unknown> {
  const h = hint.toLowerCase();
  const known = /user/.test(h)
    ? KNOWN_USERS
    : /item/.test(h)
      ? KNOWN_ITEMS
      : /categor/.test(h)
        ? CATEGORIES
        : [...KNOWN_USERS, ...KNOWN_ITEMS];
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.constantFrom(...CATEGORIES, 'fuzz-id', 'order-1-line-1') },
    { weight: 6, arbitrary: hostileString },
    { weight: /after/.test(h) ? 6 : 0, arbitrary: cursorArb },
    { weight: 1, arbitrary: wrongType },
  );
}

const intArb = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: -2, max: 120 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 1, 100, 101, 1000, 10_000, 2 ** 31 - 1, -(2 ** 31)) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e308, -1e308, 1.5, 5e-324) },
  { weight: 1, arbitrary: wrongType },
);
const floatArb = fc.oneof(
  { weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 3, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, -0, 1, -1, 0.5, 3.5, 5, 1e6, 1e6 + 1, -1e6 - 1, 1e9, 1e308, -1e308, 5e-324, 2 ** 53),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('NaN', 'Infinity', '-Infinity', '1e309') },
  { weight: 1, arbitrary: wrongType },
);
const booleanArb = fc.oneof(
  { weight: 6, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('true', 'false', 0, 1, 'yes', []) },
);
const dateArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .date({ noInvalidDate: true, min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z') })
      .map((d) => d.toISOString()),
  },
  { weight: 2, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999Z',
      '+010000-01-01T00:00:00Z',
      '-000001-01-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-13-01',
      '2026-11-01T12:00:00+14:00',
      'not a date',
      '',
      'NaN',
      0,
      -1,
      8.64e15,
      8.64e15 + 1,
      1e308,
      1.5,
    ),
  },
  { weight: 1, arbitrary: hostileString },
  { weight: 1, arbitrary: wrongType },
);

const HYPERPARAMETER_KEYS = [
  'latentDim',
  'hiddenUnits',
  'batchSize',
  'learningRate',
  'dropout',
  'weightDecay',
  'annealCap',
  'totalAnnealSteps',
  'hidden',
  'refitDecoder',
  'bogus',
  '',
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'propertyIsEnumerable',
  'isPrototypeOf',
  'toLocaleString',
];
const jsonLeaf = fc.oneof(
  fc.integer({ min: -5, max: 5000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(...NASTY, ...SQL),
  fc.string({ unit: 'binary', maxLength: 10 }),
);
const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: jsonLeaf },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.array(jsonLeaf, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), jsonLeaf, { maxKeys: 3 }) },
);
/** Objects built with Object.fromEntries: a "__proto__" key is an own property, as JSON.parse makes it. */
const objectOf = (keys: fc.Arbitrary<string>, values: fc.Arbitrary<unknown>, maxKeys = 5) =>
  fc.array(fc.tuple(keys, values), { maxLength: maxKeys }).map((entries) => Object.fromEntries(entries));

function jsonObjectFor(hint: string): fc.Arbitrary<unknown> {
  const keys = /hyper/.test(hint.toLowerCase())
    ? fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...HYPERPARAMETER_KEYS) },
        { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
      )
    : fc.oneof(
        { weight: 3, arbitrary: fc.string({ maxLength: 8 }) },
        { weight: 1, arbitrary: fc.constantFrom(...NASTY, ...HYPERPARAMETER_KEYS) },
      );
  return fc.oneof(
    { weight: 6, arbitrary: objectOf(keys, jsonValue) },
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(10, 100, 1000, 5000, 20_000, 200_000), fc.boolean())
        .map(([depth, array]) => ({ nested: new Deep(depth, array) })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(16 * 1024 - 20, 16 * 1024, 20_000, 1_000_000).map((n) => ({ blob: 'x'.repeat(n) })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<unknown>(
        { a: '\u0000' },
        { '\u0000': 1 },
        { a: '\uD800' },
        { '\uDC00': 1 },
        { a: 'x\\u0000' },
        { a: [1, { b: '\uDBFF' }] },
      ),
    },
    { weight: 1, arbitrary: wrongType },
  );
}

function scalarFor(name: string, hint: string): fc.Arbitrary<unknown> {
  switch (name) {
    case 'Int':
      return intArb;
    case 'Float':
      return floatArb;
    case 'Boolean':
      return booleanArb;
    case 'String':
      return stringFor(hint);
    case 'ID':
      return fc.oneof({ weight: 8, arbitrary: stringFor(hint) }, { weight: 1, arbitrary: intArb });
    case 'DateTime':
      return dateArb;
    case 'JSONObject':
      return jsonObjectFor(hint);
    default:
      return fc.oneof(hostileString, intArb, floatArb, jsonObjectFor(hint));
  }
}

const cache = new Map<string, fc.Arbitrary<unknown>>();

/** Values of a GraphQL input type, valid and not. `hint` is the argument or field name. */
function valueFor(type: GraphQLInputType, hint: string): fc.Arbitrary<unknown> {
  const key = `${String(type)}|${hint}`;
  let arb = cache.get(key);
  if (arb) return arb;
  if (isNonNullType(type)) {
    arb = fc.oneof({ weight: 20, arbitrary: valueFor(type.ofType, hint) }, { weight: 1, arbitrary: fc.constant(null) });
  } else if (isListType(type)) {
    const element = valueFor(type.ofType as GraphQLInputType, hint);
    arb = fc.oneof(
      { weight: 10, arbitrary: fc.array(element, { maxLength: 6 }) },
      { weight: 2, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: element }, // a single value: list input coercion
      {
        weight: 1,
        // At most ~20 MB of JSON (the body limit is 16 MiB): 10,001 copies of a 100 kB string would not even serialize.
        arbitrary: fc
          .tuple(fc.constantFrom(1000, 1001, 2500, 10_001), element)
          .map(([n, e]) =>
            Array.from({ length: Math.min(n, Math.ceil(20e6 / (JSON.stringify(e) ?? '').length || 1)) }, () => e),
          ),
      },
      { weight: 1, arbitrary: fc.constantFrom<unknown>('x', 1, { a: 1 }, [null], [[]]) },
    );
  } else if (isEnumType(type)) {
    const names = type.getValues().map((v) => v.name);
    arb = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...names) },
      { weight: 1, arbitrary: fc.constantFrom(...names).map((n) => n.toLowerCase()) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<unknown>('', 'NOPE', 'DROP TABLE', '__proto__', 0, 1, true, [names[0]], {
          v: names[0],
        }),
      },
    );
  } else if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    const present = fields.map((f) => {
      const required = isNonNullType(f.type) && f.defaultValue === undefined;
      return fc.oneof(
        { weight: required ? 12 : 5, arbitrary: valueFor(f.type, f.name).map((v) => [f.name, v] as const) },
        { weight: required ? 1 : 4, arbitrary: fc.constant(null) }, // missing field
      );
    });
    const extra = fc.oneof(
      { weight: 9, arbitrary: fc.constant(null) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(['bogus', 1] as const, ['__typename', 'X'] as const, ['id ', 'x'] as const),
      },
    );
    const object = fc
      .tuple(fc.tuple(...present), extra)
      .map(([entries, more]) =>
        Object.fromEntries([...entries, more].filter((e): e is readonly [string, unknown] => e !== null)),
      );
    arb = fc.oneof(
      { weight: 12, arbitrary: object },
      { weight: 1, arbitrary: fc.constantFrom<unknown>('x', 1, [], true) },
    );
  } else if (isScalarType(type)) {
    arb = scalarFor(type.name, hint);
  } else {
    throw new Error(`no generator for ${String(type)}`);
  }
  cache.set(key, arb);
  return arb;
}

/**
 * Plausible values only: what a well-behaved client sends (known ids, small limits, valid enum
 * names, required input fields present). They reach the services and the model, and still find
 * domain errors (unknown ids, settings of the wrong model kind...).
 */
function plausibleFor(type: GraphQLInputType, hint: string): fc.Arbitrary<unknown> {
  const key = `plausible|${String(type)}|${hint}`;
  let arb = cache.get(key);
  if (arb) return arb;
  const h = hint.toLowerCase();
  if (isNonNullType(type)) arb = plausibleFor(type.ofType, hint);
  else if (isListType(type))
    arb = fc.array(plausibleFor(type.ofType as GraphQLInputType, hint), { minLength: 1, maxLength: 4 });
  else if (isEnumType(type)) arb = fc.constantFrom(...type.getValues().map((v) => v.name));
  else if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).map((f) => {
      const required = isNonNullType(f.type) && f.defaultValue === undefined;
      const value = plausibleFor(f.type, f.name).map((v) => [f.name, v] as const);
      return required ? value : fc.option(value, { nil: null });
    });
    arb = fc
      .tuple(...fields)
      .map((entries) => Object.fromEntries(entries.filter((e): e is readonly [string, unknown] => e !== null)));
  } else if (isScalarType(type)) {
    const known = /user/.test(h)
      ? KNOWN_USERS
      : /item/.test(h)
        ? KNOWN_ITEMS
        : /categor/.test(h)
          ? CATEGORIES
          : [...KNOWN_USERS, ...KNOWN_ITEMS];
    switch (type.name) {
      case 'Int':
        arb = /^(id|seed)$/.test(h)
          ? fc.integer({ min: 0, max: 4 })
          : /epoch/.test(h)
            ? fc.integer({ min: 1, max: 3 })
            : fc.integer({ min: 1, max: 30 });
        break;
      case 'Float':
        arb = /lambda/.test(h)
          ? fc.double({ min: 1, max: 500, noNaN: true })
          : fc.double({ min: 0, max: 5, noNaN: true });
        break;
      case 'Boolean':
        arb = fc.boolean();
        break;
      case 'DateTime':
        arb = fc
          .date({ noInvalidDate: true, min: new Date('2020-01-01T00:00:00Z'), max: new Date('2027-01-01T00:00:00Z') })
          .map((d) => d.toISOString());
        break;
      case 'JSONObject':
        arb = /hyper/.test(h)
          ? fc.constantFrom(
              {},
              { latentDim: 8 },
              { dropout: 0.5, batchSize: 32 },
              { hidden: 16 },
              { hiddenUnits: [32] },
            )
          : fc.dictionary(fc.string({ maxLength: 6 }), jsonLeaf, { maxKeys: 3 });
        break;
      case 'String':
        arb = /eventid/.test(h)
          ? fc.uuid()
          : /name/.test(h)
            ? fc.string({ minLength: 1, maxLength: 20 })
            : /after/.test(h)
              ? cursorArb
              : fc.constantFrom(...known);
        break;
      default:
        arb = fc.constantFrom(...known);
    }
  } else {
    throw new Error(`no generator for ${String(type)}`);
  }
  cache.set(key, arb);
  return arb;
}

// ---------------------------------------------------------------------------------------------
// Requests.

/** How an argument is passed: as a variable, inline, left out, declared but not sent, or declared with the wrong type. */
type Mode = 'variable' | 'inline' | 'omit' | 'unsent' | 'misdeclared';
interface ArgCase {
  mode: Mode;
  value: unknown;
}

function argCase(arg: GraphQLArgument): fc.Arbitrary<ArgCase> {
  const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
  const mode = fc.oneof(
    { weight: 28, arbitrary: fc.constant<Mode>('variable') },
    { weight: 10, arbitrary: fc.constant<Mode>('inline') },
    { weight: required ? 1 : 10, arbitrary: fc.constant<Mode>('omit') },
    { weight: 1, arbitrary: fc.constant<Mode>('unsent') },
    { weight: 1, arbitrary: fc.constant<Mode>('misdeclared') },
  );
  return fc.record({ mode, value: valueFor(arg.type, arg.name) });
}

function plausibleArgCase(arg: GraphQLArgument): fc.Arbitrary<ArgCase> {
  const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
  const mode = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Mode>('variable') },
    { weight: 1, arbitrary: fc.constant<Mode>('inline') },
    { weight: required ? 0 : 2, arbitrary: fc.constant<Mode>('omit') },
  );
  return fc.record({ mode, value: plausibleFor(arg.type, arg.name) });
}

/** A case: one argument case per argument, in schema order; about a third are plausible requests. */
const caseFor = (op: Operation): fc.Arbitrary<ArgCase[]> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.tuple(...op.field.args.map(argCase)) },
    { weight: 1, arbitrary: fc.tuple(...op.field.args.map(plausibleArgCase)) },
  );

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A GraphQL literal of a JS value (enum names bare where the type is an enum). */
function literal(value: unknown, type: GraphQLInputType | undefined): string {
  const inner = type && isNonNullType(type) ? type.ofType : type;
  if (value === null || value === undefined) return 'null';
  if (value instanceof Deep) return value.literal();
  if (typeof value === 'string') {
    if (inner && isEnumType(inner) && NAME.test(value) && !['true', 'false', 'null'].includes(value)) return value;
    return JSON.stringify(value);
  }
  if (typeof value === 'number')
    return Number.isFinite(value) ? (Object.is(value, -0) ? '0' : String(value)) : JSON.stringify(String(value));
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value))
    return `[${value.map((v) => literal(v, inner && isListType(inner) ? (inner.ofType as GraphQLInputType) : undefined)).join(', ')}]`;
  const fields = inner && isInputObjectType(inner) ? inner.getFields() : {};
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${NAME.test(k) ? k : JSON.stringify(k)}: ${literal(v, fields[k]?.type)}`)
    .join(', ')}}`;
}

/** JSON text of the request body; Deep values are spliced in as text. */
function requestBody(query: string, variables: Record<string, unknown>): string {
  const deep: Deep[] = [];
  const text = JSON.stringify({ query, variables }, (_k, v: unknown) => {
    if (v instanceof Deep) {
      deep.push(v);
      return `\u0001DEEP${deep.length - 1}\u0001`;
    }
    return v;
  });
  return text.replace(/"\\u0001DEEP(\d+)\\u0001"/g, (_m, i: string) => deep[Number(i)].json());
}

/** The selection of a result type: its leaves, and objects two levels down. */
function selection(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (!isObjectType(named)) return '{ __typename }';
  const parts: string[] = [];
  for (const f of Object.values(named.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    if (isLeafType(getNamedType(f.type))) parts.push(f.name);
    else if (depth < 2) parts.push(`${f.name} ${selection(f.type, depth + 1)}`);
  }
  return `{ ${parts.join(' ')} }`;
}

/** Keeps the seeded users and items away from the deletion mutations. */
function neutralise(value: unknown): unknown {
  if (typeof value === 'string') return PROTECTED.has(value) ? `fuzz-${value}` : value;
  if (Array.isArray(value)) return value.map(neutralise);
  if (value && typeof value === 'object' && !(value instanceof Deep))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, neutralise(v)]));
  return value;
}

function buildRequest(
  op: Operation,
  args: ArgCase[],
): { query: string; variables: Record<string, unknown>; inline: boolean } {
  const defs: string[] = [];
  const passed: string[] = [];
  const variables: Record<string, unknown> = {};
  let inline = false;
  op.field.args.forEach((arg, i) => {
    const { mode } = args[i];
    const value = DESTRUCTIVE.has(op.name) ? neutralise(args[i].value) : args[i].value;
    switch (mode) {
      case 'variable':
      case 'unsent':
      case 'misdeclared': {
        const declared =
          mode === 'misdeclared' ? (getNamedType(arg.type).name === 'String' ? 'Int' : 'String') : String(arg.type);
        defs.push(`$${arg.name}: ${declared}`);
        passed.push(`${arg.name}: $${arg.name}`);
        if (mode !== 'unsent') variables[arg.name] = value;
        break;
      }
      case 'inline':
        inline = true;
        passed.push(`${arg.name}: ${literal(value, arg.type)}`);
        break;
      case 'omit':
        break;
    }
  });
  const vars = defs.length ? `(${defs.join(', ')})` : '';
  const call = passed.length ? `(${passed.join(', ')})` : '';
  const target = `${op.field.name}${call} ${selection(op.field.type)}`;
  return {
    query: `${op.kind} Fuzz${vars} { ${op.parent ? `${op.parent} { ${target} }` : target} }`,
    variables,
    inline,
  };
}

// ---------------------------------------------------------------------------------------------
// Figures.

const stats = {
  cases: 0,
  inline: 0,
  status: {} as Record<number, number>,
  perOperation: {} as Record<string, number>,
  errors: {} as Record<string, number>,
  ok: 0,
};
const bump = (m: Record<string | number, number>, k: string | number) => (m[k] = (m[k] ?? 0) + 1);

/** Long strings and deep values shortened for a readable counterexample. */
function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'string' && v.length > 120
      ? `${v.slice(0, 60)}…<${v.length} chars>`
      : Array.isArray(v) && v.length > 20
        ? [...v.slice(0, 3), `…<${v.length} elements>`]
        : v,
  );
}

const TRIVIAL = `{ servingStatus { warm modelVersion { id } } }`;

describe('GraphQL fuzzing (fast-check)', () => {
  let app: NestFastifyApplication;
  let versionId: number;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp();
    await seedTasteGroups(app);
    // An item without interactions has no vector in the version: NOT_IN_MODEL paths run too.
    const fresh = await gql(
      app,
      `mutation { upsertItems(items: [{ id: "fresh", title: "Added after training", categories: ["g0"] }]) { id } }`,
    );
    expect(fresh.errors).toBeUndefined();
    versionId = await trainTestVersion({
      epochs: 5,
      hyperparameters: { latentDim: 8, batchSize: 32, learningRate: 5e-3 },
    });
    const activated = await gql(app, `mutation($id: Int!) { activateModelVersion(id: $id) { id active } }`, {
      id: versionId,
    });
    expect(activated.errors).toBeUndefined();
    const recs = await gql(app, `{ recommendations(userId: "u1", limit: 3) { source } }`);
    expect(recs.data!.recommendations.source).toBe('MODEL');
    // A stopped experiment between two versions, with impressions: Experiment.arms computes metrics.
    const other = await trainTestVersion({
      epochs: 1,
      seed: 5,
      hyperparameters: { latentDim: 8, batchSize: 32, learningRate: 5e-3 },
    });
    const started = await gql(app, `mutation($arms: [ExperimentArmInput!]!) { startExperiment(arms: $arms) { id } }`, {
      arms: [{ versionId }, { versionId: other }],
    });
    expect(started.errors).toBeUndefined();
    for (const u of KNOWN_USERS)
      expect((await gql(app, `{ recommendations(userId: "${u}", limit: 3) { source } }`)).errors).toBeUndefined();
    await app.get(ExperimentsService).flushImpressions();
    const stopped = await gql(app, `mutation($id: Int!, $w: Int) { stopExperiment(id: $id, winner: $w) { id } }`, {
      id: started.data!.startExperiment.id,
      w: versionId,
    });
    expect(stopped.errors).toBeUndefined();
    // Out of reach of the fuzzed ids (small and edge integers): no fuzzed activation or experiment
    // can make it serve, so the served version stays the one the liveness check expects.
    await sql(`UPDATE model_versions SET id = 1999999999 WHERE id = $1`, [other]);
  }, 120_000);

  afterAll(async () => {
    const codes = Object.entries(stats.errors)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    const perOp = Object.entries(stats.perOperation)
      .map(([o, n]) => `${o} ${n}`)
      .join(', ');
    console.log(
      `[fuzz] ${stats.cases} cases over ${operations.length} operations (${operations.reduce((s, o) => s + o.paths.length, 0)} argument paths), seed ${SEED}: ` +
        `HTTP ${Object.entries(stats.status)
          .map(([s, n]) => `${s} ×${n}`)
          .join(', ')}; ${stats.ok} answered without errors; ${stats.inline} with inline literals; ` +
        `errors by code: ${codes || 'none'}; internal server errors ${stats.errors.INTERNAL_SERVER_ERROR ?? 0}; per operation: ${perOp}`,
    );
    await app?.close();
    await truncateAll(); // the queued training runs, fuzz users, items and interactions
  }, 60_000);

  it('covers every Query and Mutation field of the schema, and every field argument of the object types', () => {
    expect(operations.length).toBeGreaterThanOrEqual(30);
    expect(operations.filter((op) => op.name.includes('.') && !op.parent).map((op) => op.name)).toEqual([]); // add it to PARENTS
    expect(operations.reduce((n, op) => n + runsFor(op), 0)).toBeGreaterThanOrEqual(2_000);
  });

  it.each(
    operations.map(
      (op, index) =>
        [
          `${op.name.includes('.') ? '' : op.kind === 'query' ? 'Query.' : 'Mutation.'}${op.name}(${op.paths.join(', ')})`,
          op,
          index,
        ] as const,
    ),
  )(
    '%s',
    async (_title, op, index) => {
      const property = fc.asyncProperty(caseFor(op), async (args) => {
        const { query, variables, inline } = buildRequest(op, args);
        stats.cases++;
        if (inline) stats.inline++;
        bump(stats.perOperation, op.name);
        const res = await app.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json' },
          payload: requestBody(query, variables),
        });
        bump(stats.status, res.statusCode);
        let body: { data?: unknown; errors?: { message: string; extensions?: { code?: unknown } }[] } | undefined;
        try {
          body = JSON.parse(res.body);
        } catch {
          throw new Error(`HTTP ${res.statusCode}: not JSON: ${res.body.slice(0, 300)}`);
        }
        const problems: string[] = [];
        // 429 would be the rate limiter's (off here: RECODER_RATE_LIMIT_PER_MINUTE=0), an accepted refusal, not a crash.
        const rateLimited =
          res.statusCode === 429 && (body?.errors ?? []).every((e) => e.extensions?.code === 'RATE_LIMITED');
        if (res.statusCode !== 200 && res.statusCode !== 400 && !rateLimited) problems.push(`HTTP ${res.statusCode}`);
        if (!body?.errors && res.statusCode !== 200) problems.push(`HTTP ${res.statusCode} without GraphQL errors`);
        for (const e of body?.errors ?? []) {
          const code = e.extensions?.code;
          if (typeof code !== 'string') problems.push(`an error without extensions.code: ${e.message}`);
          else bump(stats.errors, code);
          if (code === 'INTERNAL_SERVER_ERROR')
            problems.push(`INTERNAL_SERVER_ERROR at ${JSON.stringify((e as { path?: unknown }).path ?? null)}`);
        }
        if (!body?.errors) stats.ok++;
        const alive = await gql(app, TRIVIAL);
        if (alive.status !== 200 || alive.errors || alive.data?.servingStatus.modelVersion?.id !== versionId)
          problems.push(`the server no longer answers: ${JSON.stringify(alive)}`);
        if (problems.length > 0) {
          throw new Error(
            `${problems.join('; ')}\n  query: ${query.slice(0, 2000)}\n  variables: ${show(variables).slice(0, 2000)}\n  response: HTTP ${res.statusCode} ${res.body.slice(0, 1000)}`,
          );
        }
      });
      const out = await fc.check(property, { seed: SEED + index, numRuns: runsFor(op), endOnFailure: false });
      if (out.failed) {
        const error = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
        throw new Error(
          `${op.kind} ${op.name}: property failed after ${out.numRuns} case(s), shrunk ${out.numShrinks} time(s) ` +
            `(reproduce: FUZZ_SEED=${SEED}, seed ${out.seed}, path "${out.counterexamplePath}")\n` +
            `counterexample (args in schema order): ${show(out.counterexample).slice(0, 3000)}\n${error}`,
        );
      }
      // Keep the world meaningful for the next operation: the seeded items visible again.
      if (op.name === 'setItemHidden' || op.name === 'upsertItems')
        await sql(`UPDATE items SET hidden = false WHERE hidden`);
    },
    120_000,
  );
});

// ---------------------------------------------------------------------------------------------
// The HTTP envelope: methods, Authorization spellings, Content-Type and Accept values, bodies and
// query strings, against a production-like server (auth required, introspection off, rate limits
// and the failure budget on). Every answer is JSON with a known status and a code on every error;
// no INTERNAL_SERVER_ERROR, and nothing logged as an error (no stack trace for a client's mistake).

const HTTP_CASES = Number(process.env.FUZZ_HTTP_CASES ?? 1_000);
const HTTP_STATUSES = new Set([200, 400, 401, 405, 413, 415, 429]);

describe('GraphQL HTTP envelope fuzzing (fast-check)', () => {
  let app: NestFastifyApplication;
  const log = new CapturedLog();
  let key = '';
  const stats = { status: {} as Record<number, number>, codes: {} as Record<string, number> };

  beforeAll(async () => {
    await sql('TRUNCATE rate_limit_buckets');
    const prisma = createPrismaClient(testDatabaseUrl(), 1);
    try {
      key = (await createApiKey(prisma, { name: 'fuzz http', role: 'WRITER' })).key;
    } finally {
      await prisma.$disconnect();
    }
    app = await bootAppOn(
      testDatabaseUrl(),
      { auth: 'required', introspection: false, rateLimitPerMinute: 100_000, authFailuresPerMinute: 200 },
      log,
    );
  });
  afterAll(async () => {
    console.log(
      `[fuzz http] ${HTTP_CASES} cases: HTTP ${JSON.stringify(stats.status)}; errors by code ${JSON.stringify(stats.codes)}; internal server errors ${stats.codes.INTERNAL_SERVER_ERROR ?? 0}`,
    );
    await app?.close();
    await sql('TRUNCATE rate_limit_buckets');
  });

  it('answers every request envelope with a known status and error code, never INTERNAL_SERVER_ERROR', async () => {
    const authorization = fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR'), fc.constantFrom(' ', '\t', '  ', ' \t'))
          .map(([s, g]) => `${s}${g}${key}`),
      },
      { weight: 1, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '',
          'Bearer',
          'Bearer ',
          `Basic ${key}`,
          `Bearer ${key} extra`,
          `Bearer ${'x'.repeat(600)}`,
          'Bearer rk_unknown',
          `${key}`,
          'Bearer \u00e9',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((x) => `Bearer ${x}`) },
    );
    const contentType = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON'),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          undefined,
          '',
          'application/graphql',
          'application/x-www-form-urlencoded',
          'text/plain',
          'multipart/form-data; boundary=x',
          'application/json; charset=latin1',
          'application/json;;',
          'application/graphql-response+json',
          '*/*',
          ';',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
    );
    const accept = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'application/json',
          'application/graphql-response+json',
          '*/*',
          'application/graphql-response+json, application/json;q=0.9',
          'text/html',
          'application/*;q=0',
          ';q=x, ,',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    );
    const queryText = fc.oneof(
      fc.constantFrom(
        '{ __typename }',
        '{ servingStatus { populationSize } }',
        'mutation { upsertUsers(users: [{ id: "fuzz-http" }]) { id } }',
        'query Q($n: Boolean!) { __typename @include(if: $n) }',
        '{ itemz }',
        '{',
        '',
        'subscription { x }',
        '{ __schema { types { name } } }',
      ),
      fc.string({ maxLength: 40 }),
    );
    const json = fc.jsonValue({ maxDepth: 3 });
    const fields = {
      query: fc.oneof({ weight: 6, arbitrary: queryText }, { weight: 1, arbitrary: json }),
      variables: fc.oneof(fc.constant(null), fc.constant({ n: true }), json),
      extensions: fc.oneof(fc.constant(null), fc.constant({}), json),
      operationName: fc.oneof(fc.constant(null), fc.constantFrom('Q', 'nope'), json),
    };
    const params = fc.oneof(
      // Well-formed requests (a string query, maybe null or map parameters) reach GraphQL.
      {
        weight: 2,
        arbitrary: fc.record(
          {
            ...fields,
            query: queryText,
            variables: fc.constantFrom(null, { n: true }, {}),
            extensions: fc.constantFrom(null, {}),
          },
          { requiredKeys: ['query'] },
        ),
      },
      { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
    );
    const body = fc.oneof(
      { weight: 6, arbitrary: params.map((p) => JSON.stringify(p)) },
      { weight: 1, arbitrary: json.map((v) => JSON.stringify(v)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '',
          '{',
          'null',
          '[]',
          '[{"query":"{ __typename }"}]',
          '{"__proto__":{"query":"x"}}',
          '{"query":"{ __typename }"}garbage',
          'query=%7B__typename%7D',
        ),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    );
    const getQuery = params.map((p) => {
      const search = new URLSearchParams();
      for (const [k, v] of Object.entries(p)) search.append(k, typeof v === 'string' ? v : JSON.stringify(v));
      return search.toString();
    });
    const request = fc.record({
      method: fc.constantFrom('POST', 'POST', 'POST', 'GET'),
      authorization,
      contentType,
      accept,
      body,
      getQuery: fc.oneof(
        getQuery,
        fc.constantFrom(
          '',
          'query=%7B__typename%7D&query=x',
          'variables=%7B',
          'query=%7B__typename%7D&variables=5',
          'query=mutation%7B__typename%7D',
        ),
      ),
      remoteAddress: fc.constantFrom('127.0.0.1', '198.51.100.9', '::1'),
    });
    const property = fc.asyncProperty(request, async (r) => {
      const loggedBefore = log.entries.length;
      const headers: Record<string, string> = {};
      if (r.authorization !== undefined) headers.authorization = r.authorization;
      if (r.accept !== undefined) headers.accept = r.accept;
      if (r.method === 'POST' && r.contentType !== undefined) headers['content-type'] = r.contentType;
      const res = await app.inject(
        r.method === 'GET'
          ? { method: 'GET', url: `/graphql?${r.getQuery}`, headers, remoteAddress: r.remoteAddress }
          : { method: 'POST', url: '/graphql', headers, payload: r.body, remoteAddress: r.remoteAddress },
      );
      stats.status[res.statusCode] = (stats.status[res.statusCode] ?? 0) + 1;
      const problems: string[] = [];
      if (!HTTP_STATUSES.has(res.statusCode)) problems.push(`HTTP ${res.statusCode}`);
      let parsed: { errors?: { message: string; extensions?: { code?: unknown } }[] } | undefined;
      try {
        parsed = JSON.parse(res.body);
      } catch {
        problems.push('the body is not JSON');
      }
      for (const e of parsed?.errors ?? []) {
        const code = e.extensions?.code;
        if (typeof code !== 'string') problems.push(`an error without extensions.code: ${e.message}`);
        else stats.codes[code] = (stats.codes[code] ?? 0) + 1;
        if (code === 'INTERNAL_SERVER_ERROR') problems.push('INTERNAL_SERVER_ERROR');
      }
      if (res.statusCode !== 200 && !parsed?.errors) problems.push(`HTTP ${res.statusCode} without errors`);
      if (!String(res.headers['content-type']).startsWith('application/'))
        problems.push(`content-type ${res.headers['content-type']}`);
      const logged = log.entries.slice(loggedBefore).filter((e) => e.level === 'error' || e.level === 'fatal');
      if (logged.length > 0) problems.push(`logged: ${logged.map((e) => e.text.slice(0, 300)).join(' | ')}`);
      if (problems.length > 0)
        throw new Error(`${problems.join('; ')}\n  response: HTTP ${res.statusCode} ${res.body.slice(0, 500)}`);
    });
    await fc.assert(property, { seed: SEED, numRuns: HTTP_CASES });
    const alive = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: `Bearer ${key}` },
      payload: { query: '{ __typename }' },
    });
    expect(JSON.parse(alive.body)).toEqual({ data: { __typename: 'Query' } });
  }, 300_000);
});
