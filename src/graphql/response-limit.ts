import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../common/domain-error.js';
import type { Env } from '../config/env.js';

/** Must match graphqlConfig's `path`. */
const GRAPHQL_PATH = '/graphql';

/** The answer that replaces a GraphQL response larger than the limit. */
export function responseTooLarge(bytes: number, limit: number): string {
  return JSON.stringify({
    data: null,
    errors: [
      {
        message: `The response is ${bytes} bytes, more than the limit of ${limit} (RECODER_MAX_RESPONSE_BYTES); ask for fewer items, a smaller limit or fewer fields`,
        extensions: { code: ErrorCode.RESPONSE_TOO_LARGE, bytes, limit },
      },
    ],
  });
}

/**
 * No GraphQL answer is larger than RECODER_MAX_RESPONSE_BYTES: a larger one is replaced by a
 * RESPONSE_TOO_LARGE error (same HTTP status) before it is sent. The query-cost limit, which counts
 * list sizes, keeps documents from asking for such answers in the first place; this is the backstop.
 */
export function registerResponseLimit(fastify: FastifyInstance, env: Env): void {
  const limit = env.maxResponseBytes;
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (request.routeOptions.url !== GRAPHQL_PATH || (typeof payload !== 'string' && !Buffer.isBuffer(payload)))
      return done(null, payload);
    if (typeof payload === 'string' && payload.length * 3 <= limit) return done(null, payload); // UTF-8: at most 3 bytes per UTF-16 unit
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (bytes <= limit) return done(null, payload);
    reply.header('content-type', 'application/json; charset=utf-8');
    done(null, responseTooLarge(bytes, limit));
  });
}
