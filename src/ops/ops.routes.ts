import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MercuriusContext } from 'mercurius';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { ActiveModelService } from '../serving/active-model.service.js';
import { rootFieldsLabel } from './graphql-operation.js';
import { MetricsService, type Outcome } from './metrics.service.js';
import { ServingStages } from '../serving/serving-stages.js';
import { OpsDatabase } from './ops-database.js';

/** Must match graphqlConfig's `path`. */
const GRAPHQL_PATH = '/graphql';
/** /ready fails the database check when `SELECT 1` takes longer. */
const READY_DB_TIMEOUT_MS = 1000;

interface Check {
  status: 'ok' | 'fail' | 'unknown';
  [detail: string]: unknown;
}

export interface Readiness {
  status: 'ready' | 'unavailable';
  /** Names of the failed checks (the model check is `unknown` when the database fails). */
  failed: string[];
  checks: { database: Check; model: Check };
}

/** Per GraphQL request: start time, the operation's root fields once known, whether it erred. */
interface Timing {
  start: bigint;
  operation: string;
  errored: boolean;
  /** performance.now() at onRequest, preExecution (parsed and validated) and onResolution (executed). */
  received: number;
  executing: number;
  resolved: number;
}

/**
 * Plain Fastify routes beside GraphQL, outside Nest's guards (no API key): `/health` (liveness),
 * `/ready` (database and model readiness) and `/metrics` (Prometheus, when RECODER_METRICS is on),
 * plus the hooks that time GraphQL requests.
 */
@Injectable()
export class OpsRoutes implements OnModuleInit {
  private readonly timings = new WeakMap<FastifyRequest, Timing>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(ENV) private readonly env: Env,
    private readonly metrics: MetricsService,
    private readonly activeModel: ActiveModelService,
    private readonly db: OpsDatabase,
    private readonly stages: ServingStages,
  ) {}

  /**
   * Runs before GraphQLModule registers Mercurius (OpsModule is global, and Nest initialises
   * global modules first), so the root-level hooks below also apply to Mercurius' routes.
   */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');
    fastify.get('/health', async (_request, reply) => {
      noStore(reply);
      return { status: 'ok' };
    });
    fastify.get('/ready', async (_request, reply) => {
      const readiness = await this.readiness();
      noStore(reply).code(readiness.status === 'ready' ? 200 : 503);
      return readiness;
    });
    if (!this.env.metrics) return;
    fastify.get('/metrics', async (_request, reply) => {
      const body = await this.metrics.registry.metrics();
      noStore(reply).type(this.metrics.registry.contentType);
      return body;
    });
    this.timeGraphql(fastify);
  }

  /** Ready when the database answers within 1 s and this process serves the active model version (if any). */
  async readiness(): Promise<Readiness> {
    let database: Check;
    let model: Check;
    const t0 = performance.now();
    try {
      const rows = await this.db.query<{ active: number | null }>(
        `SELECT 1 AS one, (SELECT version_id FROM active_models WHERE slot = 'default') AS active`,
        READY_DB_TIMEOUT_MS,
      );
      database = { status: 'ok', ms: Math.round(performance.now() - t0) };
      const active = rows[0]?.active ?? null;
      const served = this.activeModel.version?.id ?? null;
      model =
        active === null || active === served
          ? { status: 'ok', active, served }
          : {
              status: 'fail',
              active,
              served,
              message: `model version ${active} is active but this process serves ${served === null ? 'none' : `version ${served}`} (loading, or it failed to load)`,
            };
    } catch (error) {
      database = { status: 'fail', message: `SELECT 1: ${(error as Error).message}` };
      model = { status: 'unknown', served: this.activeModel.version?.id ?? null };
    }
    const checks = { database, model };
    const failed = Object.entries(checks)
      .filter(([, check]) => check.status === 'fail')
      .map(([name]) => name);
    return { status: Object.values(checks).every((c) => c.status === 'ok') ? 'ready' : 'unavailable', failed, checks };
  }

  /**
   * Times every request to the GraphQL route, from onRequest to the end of the response. The label
   * comes from Mercurius' preExecution hook (the parsed, validated document: requests that never
   * get there are `invalid`); errors in the result (onResolution) or a status >= 400 make it `error`.
   */
  private timeGraphql(fastify: FastifyInstance): void {
    const finish = (request: FastifyRequest, statusCode: number) => {
      const timing = this.timings.get(request);
      if (!timing) return;
      this.timings.delete(request);
      this.metrics.graphqlInFlight.dec();
      const outcome: Outcome = timing.errored || statusCode >= 400 ? 'error' : 'ok';
      this.metrics.observeGraphql(timing.operation, outcome, Number(process.hrtime.bigint() - timing.start) / 1e9);
    };
    fastify.addHook('onRequest', (request, _reply, done) => {
      if (request.routeOptions.url === GRAPHQL_PATH) {
        this.timings.set(request, {
          start: process.hrtime.bigint(),
          operation: 'invalid',
          errored: false,
          received: performance.now(),
          executing: 0,
          resolved: 0,
        });
        this.metrics.graphqlInFlight.inc();
      }
      done();
    });
    // onSend runs once the answer is serialized: parse, execute and serialize stages.
    fastify.addHook('onSend', (request, _reply, payload, done) => {
      const timing = this.timings.get(request);
      if (timing && timing.resolved > 0) {
        this.stages.observe('parse', timing.executing - timing.received);
        this.stages.observe('execute', timing.resolved - timing.executing);
        this.stages.observe('serialize', performance.now() - timing.resolved);
      }
      done(null, payload);
    });
    fastify.addHook('onResponse', (request, reply, done) => {
      finish(request, reply.statusCode);
      done();
    });
    // The client went away before the answer: counted as an error.
    fastify.addHook('onRequestAbort', (request, done) => {
      finish(request, 499);
      done();
    });
    // Mercurius is registered by now (onReady); its hooks name the operation and see the errors.
    fastify.addHook('onReady', async () => {
      const graphql = (fastify as Partial<Pick<FastifyInstance, 'graphql'>>).graphql;
      if (!graphql) return;
      graphql.addHook('preExecution', async (_schema, document, context: MercuriusContext) => {
        const request = context.reply?.request;
        const timing = request && this.timings.get(request);
        if (timing) {
          timing.operation = rootFieldsLabel(document, operationNameOf(request));
          timing.executing = performance.now();
        }
      });
      graphql.addHook('onResolution', async (execution, context: MercuriusContext) => {
        const request = context.reply?.request;
        const timing = request && this.timings.get(request);
        if (timing) timing.resolved = performance.now();
        if (timing && execution.errors && execution.errors.length > 0) timing.errored = true;
      });
    });
  }
}

function operationNameOf(request: FastifyRequest): string | undefined {
  const source = (request.method === 'GET' ? request.query : request.body) as { operationName?: unknown } | undefined;
  return typeof source?.operationName === 'string' ? source.operationName : undefined;
}
