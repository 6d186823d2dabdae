import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import {
  GraphQLError,
  Kind,
  Location,
  type OperationDefinitionNode,
  NoSchemaIntrospectionCustomRule,
  parse,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { DomainError, ErrorCode, withoutStack } from '../common/domain-error.js';
import type { Env } from '../config/env.js';
import { CostAdmission } from './cost-admission.js';
import { DateTimeScalar } from '../common/date-time.scalar.js';
import { formatExecutionErrors } from './error-mapping.js';
import { jitSafe } from './jit-gate.js';
import { maxDepthRule } from './query-depth.js';
import { costLimitError, operationCost } from './query-cost.js';

/** Directives per document at most (an alias-free way to make a tiny query expensive to validate). */
const MAX_DIRECTIVES = 50;

/**
 * Document limits, checked before execution (validation rules: our depth rule and graphql-armor's):
 * nesting depth (introspection excluded, bounded by graphql-js' MaxIntrospectionDepthRule instead),
 * aliases, directives, and an estimated cost (objects 2, scalars 1, ×1.5 per level; list sizes are
 * capped separately by RECODER_MAX_PAGE_SIZE). Introspection is refused when disabled. Violations
 * answer HTTP 400 with code QUERY_TOO_COMPLEX (or GRAPHQL_VALIDATION_FAILED for introspection).
 */
export function validationRules(env: Env): ValidationRule[] {
  const { aliases, cost, depth } = env.queryLimits;
  // Report through the validation context (a GraphQL error per violation) rather than throwing.
  const report = {
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(error)],
  };
  const rules: ValidationRule[] = [
    maxDepthRule(depth),
    maxAliasesRule({ n: aliases, ...report }) as unknown as ValidationRule,
    maxDirectivesRule({ n: MAX_DIRECTIVES, ...report }) as unknown as ValidationRule,
    costLimitRule({ maxCost: cost, ...report }) as unknown as ValidationRule,
  ];
  if (!env.introspection) rules.push(NoSchemaIntrospectionCustomRule);
  return rules;
}

/**
 * A GraphQL document (the query text: large values belong in variables) has at most 100,000
 * characters and 10,000 tokens, and Mercurius caches at most 100 parsed documents (default 1,000,
 * keyed by the text): unbounded documents let a client fill the heap with cached ASTs (the fuzz
 * test's 10 MB inline lists ran its process out of 4 GB). Worst case now about 300 MB.
 */
const MAX_DOCUMENT_CHARS = 100_000;
export const MAX_DOCUMENT_TOKENS = 10_000;
const DOCUMENT_CACHE_ENTRIES = 100;

export function graphqlConfig(env: Env): MercuriusDriverConfig {
  // Within the budget, operations costing over half the limit run one at a time.
  const admission = new CostAdmission(env.queryLimits.costInFlight, env.queryLimits.cost / 2);
  return {
    driver: MercuriusDriver,
    // The schema is built in memory; `npm run schema:print` writes schema.gql, which is committed
    // and checked by a test so API changes show up in review.
    autoSchemaFile: true,
    sortSchema: true,
    // Date fields declared without a type get the same DateTime scalar as the declared ones.
    buildSchemaOptions: { scalarsMap: [{ type: Date, scalar: DateTimeScalar }] },
    // Mercurius' own GraphiQL loads React and GraphiQL from a CDN; ours (graphiql.ts) serves them.
    graphiql: false,
    path: '/graphql',
    validationRules: validationRules(env),
    // One operation per request: batched arrays are refused (they would multiply every limit).
    allowBatchedQueries: false,
    cache: DOCUMENT_CACHE_ENTRIES,
    // Queries free of input objects run compiled by graphql-jit from their second request on
    // (jit-gate.ts); the preExecution hook below keeps the others on graphql-js.
    jit: 1,
    graphql: { parseOptions: { maxTokens: MAX_DOCUMENT_TOKENS } },
    hooks: {
      preParsing: async (_schema, source) => {
        if (source.length > MAX_DOCUMENT_CHARS) {
          throw new GraphQLError(
            `Syntax Error: the document has ${source.length} characters, more than ${MAX_DOCUMENT_CHARS}; send large values as variables`,
          );
        }
      },
      // What the operation really returns, variables and list sizes included (query-cost.ts).
      preExecution: async (schema, document, context, variables) => {
        const body = context.reply?.request?.body as { operationName?: unknown } | undefined;
        const query = context.reply?.request?.query as { operationName?: unknown } | undefined;
        const name = body?.operationName ?? query?.operationName;
        const cost = operationCost(schema, document, variables, typeof name === 'string' ? name : undefined, {
          defaultListSize: env.maxPageSize,
        });
        if (cost > env.queryLimits.cost) throw costLimitError(env.queryLimits.cost, cost);
        // At most RECODER_MAX_COST_IN_FLIGHT of cost executing at once (cost-admission.ts); the
        // cost is given back when the answer is sent or the connection closes.
        // Queries only: their answers are what the event loop resolves and serializes; a mutation's
        // cost is its input (recordInteractions' events), which the database does the work for.
        const raw = context.reply?.raw;
        const operation = document.definitions.find(
          (d): d is OperationDefinitionNode =>
            d.kind === Kind.OPERATION_DEFINITION && (typeof name !== 'string' || d.name?.value === name),
        )?.operation;
        // graphql-js runs what graphql-jit would run wrongly (jit-gate.ts): Mercurius takes a
        // returned document as modified and interprets it.
        const interpreted = jitSafe(schema, document, typeof name === 'string' ? name : undefined)
          ? undefined
          : { document };
        if (!raw || operation !== 'query') return interpreted;
        if (!admission.tryAcquire(cost)) {
          // Refusals come by the thousand under overload: no stack trace to capture and format,
          // neither here nor in the GraphQLError Mercurius would wrap a plain error in.
          const refusal = withoutStack(
            () =>
              new DomainError(
                ErrorCode.SERVICE_UNAVAILABLE,
                `the server is executing ${admission.cost} of cost (at most ${admission.maxCost} at once, and one operation over ${admission.largeAbove} at a time); this operation costs ${cost}: retry shortly`,
                undefined,
                { retryAfterSeconds: 1 },
              ),
          );
          throw withoutStack(() => new GraphQLError(refusal.message, { originalError: refusal }));
        }
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          admission.release(cost);
        };
        raw.once('finish', release);
        raw.once('close', release);
        return interpreted;
      },
      // A query that does not parse as GraphQL is tried by Mercurius as the JSON of an AST
      // ("[]", "{}", a forged tree), which graphql-js' validation is not made for: only documents
      // parsed from GraphQL text (their nodes carry a Location) go further.
      preValidation: async (_schema, document, context) => {
        if (document?.loc instanceof Location) return;
        // The GraphQL syntax error is the one to report (Mercurius keeps the query text in the context).
        const source = (context as { __currentQuery?: unknown }).__currentQuery;
        if (typeof source === 'string') parse(source, { maxTokens: MAX_DOCUMENT_TOKENS });
        throw new GraphQLError('Syntax Error: the query is not a GraphQL document');
      },
    },
    // Without introspection, no "Did you mean" hints either: they name fields and types.
    errorFormatter: (execution, context) =>
      formatExecutionErrors(execution, context, { suggestions: env.introspection }),
  };
}
