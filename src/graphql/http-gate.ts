import { getOperationAST, parse, type DocumentNode } from 'graphql';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  onSendHookHandler,
  preValidationHookHandler,
  RouteOptions,
} from 'fastify';
import { AuthService, parseAuthorization, setRequestPrincipal, type Principal } from '../auth/auth.service.js';
import { ErrorCode } from '../common/domain-error.js';
import type { Env } from '../config/env.js';
import { HttpRequestError, RateLimitError } from './error-mapping.js';
import { RateLimitService, setRateLimitHeaders } from './rate-limit.js';

export const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json';
export type ResponseMediaType = typeof GRAPHQL_RESPONSE_JSON | 'application/json';

/**
 * The response media type for an Accept header (GraphQL over HTTP): the one the client ranks
 * highest (q, then order) among application/graphql-response+json and application/json, wildcards
 * meaning application/json; application/json when the header is absent or names neither (the
 * server may answer its default rather than 406).
 */
export function negotiateMediaType(accept: string | undefined): ResponseMediaType {
  if (!accept) return 'application/json';
  let best: ResponseMediaType = 'application/json';
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.map((p) => /^q=([0-9.]+)$/.exec(p)).find(Boolean);
    const quality = q ? Number(q[1]) : 1;
    if (!(quality > 0)) continue;
    const type: ResponseMediaType | undefined =
      range === GRAPHQL_RESPONSE_JSON
        ? GRAPHQL_RESPONSE_JSON
        : range === 'application/json' || range === 'application/*' || range === '*/*'
          ? 'application/json'
          : undefined;
    if (type && quality > bestQ) {
      best = type;
      bestQ = quality;
    }
  }
  return best;
}

/** POST bodies must be JSON: `application/json`, optionally with a charset of utf-8. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || /^charset="?utf-8"?$/.test(p));
}

const badRequest = (message: string) => new HttpRequestError(400, ErrorCode.BAD_REQUEST, message);
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The GraphQL-over-HTTP request parameters, checked before Mercurius sees them: `query` a string,
 * `operationName` a string or null, `variables` and `extensions` maps or null (a null one is dropped).
 * In a GET, `variables` and `extensions` are JSON text of a map. Throws BAD_REQUEST (HTTP 400).
 */
export function checkRequestParameters(params: unknown, method: string): void {
  if (Array.isArray(params))
    throw badRequest('Batched requests (an array of operations) are not supported: send one operation per request');
  if (!isMap(params)) throw badRequest('The request body must be a JSON object with a "query" string');
  if (params.query === undefined || params.query === null)
    throw badRequest('The request has no "query": send the GraphQL document as a string');
  if (typeof params.query !== 'string')
    throw badRequest(
      `"query" must be a string (the GraphQL document), not ${Array.isArray(params.query) ? 'an array' : typeof params.query}`,
    );
  if (params.operationName !== undefined && params.operationName !== null && typeof params.operationName !== 'string') {
    throw badRequest('"operationName" must be a string or null');
  }
  for (const name of ['variables', 'extensions'] as const) {
    const value = params[name];
    if (value === undefined) continue;
    if (value === null) {
      delete params[name];
      continue;
    }
    if (method === 'GET') {
      if (typeof value !== 'string') throw badRequest(`"${name}" must be given once, as the JSON text of a map`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        throw badRequest(`"${name}" is not valid JSON`);
      }
      if (parsed === null) delete params[name];
      else if (!isMap(parsed)) throw badRequest(`"${name}" must be a map (a JSON object) or null`);
    } else if (!isMap(value)) {
      throw badRequest(
        `"${name}" must be a map (a JSON object) or null, not ${Array.isArray(value) ? 'an array' : typeof value}`,
      );
    }
  }
}

/**
 * A GET request may only run a query (GraphQL over HTTP): its operation is found here, before
 * Mercurius (which fails on a GET whose operationName matches nothing). A query that does not parse
 * is left to Mercurius to report. Throws METHOD_NOT_ALLOWED (405) or BAD_REQUEST (400).
 */
export function checkGetOperation(params: { query: string; operationName?: unknown }, maxTokens: number): void {
  let document: DocumentNode;
  try {
    document = parse(params.query, { maxTokens, noLocation: true });
  } catch {
    return;
  }
  const name = typeof params.operationName === 'string' ? params.operationName : undefined;
  const operation = getOperationAST(document, name);
  if (!operation) {
    throw badRequest(
      name === undefined
        ? 'The document has several operations: name the one to run in "operationName"'
        : `The document has no operation named "${name}"`,
    );
  }
  if (operation.operation !== 'query') {
    throw new HttpRequestError(
      405,
      ErrorCode.METHOD_NOT_ALLOWED,
      `A GET request may only run a query; send ${operation.operation}s with POST`,
    );
  }
}

const mediaTypes = new WeakMap<FastifyRequest, ResponseMediaType>();

/**
 * Admission of a GraphQL request, before its body is read and before any validation: the API key is
 * resolved first (so that callers without a valid key learn nothing about the schema, not even
 * through "Did you mean" hints), then the request is counted in its key's budget.
 *
 * Every authentication attempt whose key this process does not already know valid counts against
 * the client address' failure budget, before any key lookup: no key, a malformed header, an unknown
 * or revoked key (a valid key costs one unit when its cache entry is renewed, once a minute per
 * process). Once the budget is spent, such attempts from that address are refused with 429 without
 * a lookup until the window ends; keys known valid still pass. Unknown keys are remembered (negative
 * cache), and spent budgets per process until their window ends. Sets the RateLimit-* headers;
 * throws HttpRequestError (401) or RateLimitError (429).
 */
export class RequestGate {
  constructor(
    private readonly env: Env,
    private readonly auth: AuthService,
    private readonly limits: RateLimitService,
  ) {}

  async admit(request: FastifyRequest, reply: FastifyReply): Promise<Principal | null> {
    let bucket: string;
    let principal: Principal | null = null;
    if (this.env.auth === 'off') {
      bucket = `ip:${request.ip}`;
    } else {
      principal = await this.authenticate(request, reply);
      setRequestPrincipal(request, principal);
      bucket = `key:${principal.keyId}`;
    }
    const budget = this.limits.perKey;
    if (budget) {
      const verdict = await budget.consume(bucket);
      setRateLimitHeaders(reply, verdict);
      if (verdict.exceeded) {
        const who = principal ? `this API key (${principal.prefix}…)` : 'this client address';
        throw new RateLimitError(
          `Rate limit exceeded: at most ${verdict.limit} requests per minute for ${who}; retry in ${verdict.resetSeconds} s`,
          verdict.resetSeconds,
        );
      }
    }
    return principal;
  }

  private async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const parsed = parseAuthorization(request.headers.authorization);
    const cached = 'hash' in parsed ? this.auth.cached(parsed.hash) : undefined;
    if (cached) return cached;
    // Not known valid: the attempt counts against the address' budget before any key lookup (counted
    // first, so concurrent attempts cannot all slip past a check).
    const failures = this.limits.authFailures;
    if (failures) {
      const verdict = await failures.consume(`authfail:${request.ip}`);
      if (verdict.exceeded) {
        setRateLimitHeaders(reply, verdict);
        throw new RateLimitError(
          `Too many failed authentications from this address: at most ${verdict.limit} per minute; retry in ${verdict.resetSeconds} s with a valid API key`,
          verdict.resetSeconds,
        );
      }
    }
    let message: string;
    if ('error' in parsed) {
      message = parsed.error.message;
    } else {
      const found = cached === null ? null : await this.auth.lookup(parsed.hash);
      if (found) return found;
      message = 'Invalid or revoked API key';
    }
    reply.header('www-authenticate', 'Bearer realm="recoder"');
    throw new HttpRequestError(401, ErrorCode.UNAUTHENTICATED, message);
  }
}

function appendHook<T>(existing: T | T[] | undefined, hook: T): T[] {
  return existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
}

/**
 * Attaches the GraphQL-over-HTTP rules to the routes at `path` (Mercurius' GET and POST /graphql)
 * and to no other route: POST bodies only as application/json (415 otherwise, refused before the
 * body is read), admission by {@link RequestGate}, request parameters checked
 * ({@link checkRequestParameters}), the response in the media type the Accept header prefers, and
 * `Allow: POST` on a 405. Call before the routes are registered (before `app.init()`).
 */
export function registerGraphqlHttp(
  fastify: FastifyInstance,
  path: string,
  gate: RequestGate,
  maxTokens: number,
): void {
  const onRequest: onRequestHookHandler = async (request, reply) => {
    mediaTypes.set(request, negotiateMediaType(request.headers.accept));
    if (request.method === 'POST' && !isJsonContentType(request.headers['content-type'])) {
      throw new HttpRequestError(
        415,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        'A GraphQL POST body must be JSON: send "Content-Type: application/json"',
      );
    }
    await gate.admit(request, reply);
  };
  const preValidation: preValidationHookHandler = async (request) => {
    const params = request.method === 'POST' ? request.body : request.query;
    checkRequestParameters(params, request.method);
    if (request.method !== 'POST') checkGetOperation(params as { query: string }, maxTokens);
  };
  const onSend: onSendHookHandler = async (request, reply, payload) => {
    reply.header('content-type', `${mediaTypes.get(request) ?? 'application/json'}; charset=utf-8`);
    if (reply.statusCode === 405) reply.header('allow', 'POST');
    return payload;
  };
  fastify.addHook('onRoute', (route: RouteOptions) => {
    if (route.url !== path) return;
    route.onRequest = appendHook(route.onRequest, onRequest);
    route.preValidation = appendHook(route.preValidation, preValidation);
    route.onSend = appendHook(route.onSend, onSend);
  });
}
