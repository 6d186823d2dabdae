import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import type { Env } from '../config/env.js';
import { RateLimitError } from './error-mapping.js';

/** The rate-limit bucket of a request: its API key (hashed, never kept in clear), else its address. */
export function rateLimitKey(req: Pick<FastifyRequest, 'headers' | 'ip'>): string {
  const auth = req.headers.authorization;
  return typeof auth === 'string' && auth.length > 0 ? `key:${createHash('sha256').update(auth).digest('hex').slice(0, 32)}` : `ip:${req.ip}`;
}

/**
 * At most RECODER_RATE_LIMIT_PER_MINUTE GraphQL requests per minute per API key (per client
 * address without one), counted per process (@fastify/rate-limit, in-memory store). Over the limit:
 * HTTP 429 with a GraphQL-shaped error, code RATE_LIMITED, and Retry-After. /health, /ready and
 * /metrics are not limited. Registered before the routes exist.
 */
export async function registerRateLimit(app: NestFastifyApplication, env: Env): Promise<void> {
  if (env.rateLimitPerMinute === 0) return;
  await app.register(rateLimit, {
    global: true,
    max: env.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: rateLimitKey,
    allowList: (req) => !req.url.startsWith('/graphql'),
    // Thrown into Mercurius' error handler, whose formatter answers 429 with code RATE_LIMITED.
    errorResponseBuilder: (_req, context) => {
      const seconds = Math.ceil(context.ttl / 1000);
      return new RateLimitError(`Rate limit exceeded: at most ${context.max} requests per minute for this API key; retry in ${seconds} s`, seconds);
    },
  });
}
