import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bool, cleanEnv, num, port, str, url } from 'envalid';

/** The project root (two levels above this file in both src/ and dist/src/). */
export const PROJECT_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..',
);

export interface Env {
  /** Postgres to use; when undefined an embedded Postgres is started (see database-bootstrap). */
  databaseUrl: string | undefined;
  /** A read-only PostgreSQL (a streaming replica) for the hot read paths; null: DATABASE_URL serves them. */
  databaseReadUrl: string | null;
  embeddedPgDir: string;
  embeddedPgPort: number;
  host: string;
  port: number;
  /** NODE_ENV=production: safer defaults (no GraphiQL, no introspection, JSON logs). */
  production: boolean;
  graphiql: boolean;
  /** Serve the dashboard (web/dashboard, built into dist/dashboard by `npm run build`) at /dashboard. */
  dashboard: boolean;
  /** Schema introspection queries allowed (default: on outside production). */
  introspection: boolean;
  /** 'required': every GraphQL request needs `Authorization: Bearer <API key>`; 'off': open (logs a warning at start). */
  auth: 'required' | 'off';
  /** Limits on a GraphQL document: nesting depth, aliases, estimated cost. */
  queryLimits: { depth: number; aliases: number; cost: number; costInFlight: number };
  /** GraphQL requests per minute per API key (per client address when auth is off), across every process sharing the store; 0 = unlimited. */
  rateLimitPerMinute: number;
  /** Failed authentications per minute per client address before it is refused without a key lookup; 0 = unlimited. */
  authFailuresPerMinute: number;
  /** Where the rate-limit counters live: PostgreSQL (shared by every replica), Redis (REDIS_URL), or this process' memory. */
  rateLimitStore: 'postgres' | 'redis' | 'memory';
  /** Redis for the rate-limit counters (RECODER_RATE_LIMIT_STORE=redis, the default when set). */
  redisUrl: string | undefined;
  /** Fastify's trustProxy: whether (and which) X-Forwarded-For hops name the client address; false = the socket's address. */
  trustProxy: boolean | number | string;
  /** Log lines as JSON (pino; default in production) or human-readable. */
  logFormat: 'json' | 'pretty';
  /** Serve Prometheus metrics at /metrics. */
  metrics: boolean;
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  /** recordInteractions creates items it does not know instead of rejecting the batch. */
  createUnknownItems: boolean;
  /** Largest batch accepted by recordInteractions / upsertItems / upsertUsers. */
  maxBatchSize: number;
  /** Largest page or list size any query returns. */
  maxPageSize: number;
  /** Largest GraphQL response body (bytes); a larger answer is replaced by a RESPONSE_TOO_LARGE error. */
  maxResponseBytes: number;
  /** Interactions the per-process history cache holds at most (RECODER_HISTORY_CACHE; 0: off). */
  historyCacheInteractions: number;
  /**
   * Model work for serving: concurrent recommendation requests are batched (at most `maxBatch`,
   * waiting at most `windowMs` for others to join), `inFlight` batches run at once, at most
   * `maxQueue` requests wait (more answer SERVICE_UNAVAILABLE with Retry-After), and a request
   * not started within `deadlineMs` is refused the same way.
   */
  modelWork: {
    maxBatch: number;
    windowMs: number;
    inFlight: number;
    maxQueue: number;
    deadlineMs: number;
    threads: number;
  };
  /** Weight of each interaction kind in popularity scores; kinds not listed weigh 1. */
  popularityWeights: Record<string, number>;
  /** tfjs backend for serving and training: auto (tfjs-node, else wasm, else cpu) or a fixed one. */
  tfBackend: 'auto' | 'node' | 'wasm' | 'cpu';
  /** On wasm: large matMuls on ONNX Runtime's native GEMM ('auto', when onnxruntime-node loads) or not. */
  nativeGemm: 'auto' | 'off';
  /** Catalogs (and user populations) smaller than this are searched exactly; larger ones through HNSW. */
  exactSearchBelow: number;
  /** HNSW graph degree, build-time and query-time candidate list sizes; unset: chosen by index size (hnswParamsFor). */
  hnsw: { m?: number; efConstruction?: number; ef?: number };
  /** API processes run the training worker in a worker thread ('thread', the single-process default) or not ('off': run `npm run worker`). */
  trainingWorker: 'thread' | 'off';
  /** Nice value (0–19) of the training thread: training yields the CPU to request handling. */
  trainingThreadNice: number;
  /** Scheduled retraining: a cron expression (UTC; e.g. "0 3 * * *"), '' for none; skipped when no interaction arrived since the active version's snapshot. */
  /** Impressions and attribution (docs/experiments.md). */
  impressions: {
    sampleRate: number;
    retentionDays: number;
    bufferSize: number;
    flushMs: number;
    attributionWindowHours: number;
  };
  retrain: {
    schedule: string;
    kind: 'AUTO' | 'VAE' | 'DAE' | 'EASE' | 'AUTOREC';
    activate: 'NEVER' | 'IF_BETTER' | 'ALWAYS' | 'EXPERIMENT';
    epochs: number | null;
  };
  /** Seconds an AUTO training run may spend searching models, unless the request says otherwise. */
  autoBudgetSeconds: number;
  /** Item images (setItemImage, import --images): stored as a size×size square of 1 (grayscale) or 3 (RGB) channels; uploads at most maxBytes encoded. */
  images: { size: number; channels: 1 | 3; maxBytes: number };
}

/** Parses "PURCHASE=5,LIKE=2" into a map; throws on malformed entries. */
function parseWeights(spec: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kind, value] = part.split('=');
    const weight = Number(value);
    if (!kind || value === undefined || !Number.isFinite(weight)) {
      throw new Error(`RECODER_POPULARITY_WEIGHTS: "${part}" is not KIND=number`);
    }
    weights[kind.trim().toUpperCase()] = weight;
  }
  return weights;
}

/**
 * Validates the environment once and returns typed settings. Fails listing every bad variable
 * (envalid reports them all together). Nothing else in the project reads process.env.
 */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const raw = cleanEnv(
    source,
    {
      DATABASE_URL: url({ default: undefined, desc: 'PostgreSQL URL; unset starts an embedded Postgres' }),
      DATABASE_READ_URL: url({
        default: undefined,
        desc: 'read-only PostgreSQL URL (a streaming replica) for the hot read paths',
      }),
      RECODER_EMBEDDED_PG_DIR: str({ default: path.join(PROJECT_ROOT, '.data', 'postgres') }),
      RECODER_EMBEDDED_PG_PORT: port({ default: 54329 }),
      HOST: str({ default: '127.0.0.1' }),
      PORT: port({ default: 4000 }),
      NODE_ENV: str({ default: 'development' }),
      GRAPHIQL: bool({ default: undefined }),
      RECODER_DASHBOARD: bool({ default: true }),
      RECODER_INTROSPECTION: bool({ default: undefined }),
      RECODER_AUTH: str({ choices: ['required', 'off'], default: 'required' }),
      RECODER_MAX_QUERY_DEPTH: num({ default: 10 }),
      RECODER_MAX_ALIASES: num({ default: 30 }),
      RECODER_MAX_QUERY_COST: num({ default: 10000 }),
      RECODER_MAX_COST_IN_FLIGHT: num({ default: undefined }),
      RECODER_RATE_LIMIT_PER_MINUTE: num({ default: 60000 }),
      RECODER_AUTH_FAILURES_PER_MINUTE: num({ default: 30 }),
      RECODER_RATE_LIMIT_STORE: str({ choices: ['postgres', 'redis', 'memory'], default: undefined }),
      REDIS_URL: url({ default: undefined }),
      RECODER_TRUST_PROXY: str({
        default: 'false',
        desc: 'false, true, a hop count, or comma-separated trusted proxy addresses/CIDRs',
      }),
      LOG_FORMAT: str({ choices: ['json', 'pretty'], default: undefined }),
      RECODER_METRICS: bool({ default: true }),
      LOG_LEVEL: str({ choices: ['error', 'warn', 'log', 'debug', 'verbose'], default: 'log' }),
      RECODER_CREATE_UNKNOWN_ITEMS: bool({ default: false }),
      RECODER_MAX_BATCH_SIZE: num({ default: 10_000 }),
      RECODER_MAX_PAGE_SIZE: num({ default: 100 }),
      RECODER_MAX_RESPONSE_BYTES: num({ default: 8 * 1024 * 1024, desc: 'largest GraphQL response body' }),
      RECODER_HISTORY_CACHE: num({
        default: 4_000_000,
        desc: "interactions of users' histories cached per API process for recommendations (0: off)",
      }),
      RECODER_BATCH_MAX: num({ default: 64, desc: 'recommendation requests per model batch' }),
      RECODER_BATCH_WINDOW_MS: num({ default: 1, desc: 'longest wait (ms) for a batch to fill, 0..2' }),
      RECODER_BATCH_IN_FLIGHT: num({ default: 2, desc: 'model batches running at once' }),
      RECODER_MODEL_QUEUE: num({ default: 512, desc: 'requests waiting for model work at most' }),
      RECODER_MODEL_DEADLINE_MS: num({ default: 5000, desc: 'a request waiting longer for model work is refused' }),
      RECODER_MODEL_THREADS: num({
        default: Math.max(1, os.availableParallelism() - 1),
        desc: 'worker threads for serving model work (0: the event loop)',
      }),
      RECODER_POPULARITY_WEIGHTS: str({ default: '' }),
      RECODER_TF_BACKEND: str({ choices: ['auto', 'node', 'wasm', 'cpu'], default: 'auto' }),
      RECODER_NATIVE_GEMM: str({ choices: ['auto', 'off'], default: 'auto' }),
      RECODER_EXACT_SEARCH_BELOW: num({ default: 20000 }),
      RECODER_HNSW_M: num({ default: undefined }),
      RECODER_HNSW_EF_CONSTRUCTION: num({ default: undefined }),
      RECODER_HNSW_EF: num({ default: undefined }),
      RECODER_TRAINING_WORKER: str({ choices: ['thread', 'off'], default: 'thread' }),
      RECODER_TRAINING_THREAD_NICE: num({ default: 19 }),
      RECODER_RETRAIN_SCHEDULE: str({ default: '' }),
      RECODER_RETRAIN_KIND: str({ choices: ['AUTO', 'VAE', 'DAE', 'EASE', 'AUTOREC'], default: 'AUTO' }),
      RECODER_AUTO_BUDGET_SECONDS: num({ default: 900, desc: 'time budget of an AUTO run (seconds)' }),
      RECODER_RETRAIN_ACTIVATE: str({ choices: ['NEVER', 'IF_BETTER', 'ALWAYS', 'EXPERIMENT'], default: 'IF_BETTER' }),
      RECODER_RETRAIN_EPOCHS: num({ default: 0, desc: '0 = the model default' }),
      RECODER_IMPRESSION_SAMPLE_RATE: num({
        default: 1,
        desc: 'share of recommendation answers recorded as impressions, 0..1',
      }),
      RECODER_IMPRESSION_RETENTION_DAYS: num({
        default: 90,
        desc: 'impressions older than this are deleted (0: kept)',
      }),
      RECODER_IMPRESSION_BUFFER: num({
        default: 10_000,
        desc: 'impressions waiting to be written at most; more are dropped and counted',
      }),
      RECODER_IMPRESSION_FLUSH_MS: num({
        default: 1000,
        desc: 'longest wait (ms) before buffered impressions are written',
      }),
      RECODER_ATTRIBUTION_WINDOW_HOURS: num({
        default: 24,
        desc: 'an interaction with a shown item this long after the impression is attributed to it',
      }),
      RECODER_IMAGE_SIZE: num({ default: 32, desc: 'side of the stored square item images, 8..128' }),
      RECODER_IMAGE_CHANNELS: num({ choices: [1, 3], default: 3, desc: '1 = grayscale, 3 = RGB' }),
      RECODER_MAX_IMAGE_BYTES: num({ default: 2 * 1024 * 1024, desc: 'largest encoded (PNG/JPEG) item image' }),
    },
    {
      reporter: ({ errors }) => {
        const bad = Object.entries(errors).map(([name, err]) => `  ${name}: ${err?.message ?? 'invalid'}`);
        if (bad.length > 0) throw new Error(`Invalid environment:\n${bad.join('\n')}`);
      },
    },
  );
  const problems: string[] = [];
  const positive = (name: string, value: number, max: number) => {
    if (!Number.isInteger(value) || value < 1 || value > max)
      problems.push(`  ${name}: must be an integer in 1..${max}`);
  };
  positive('RECODER_MAX_BATCH_SIZE', raw.RECODER_MAX_BATCH_SIZE, 100_000);
  positive('RECODER_MAX_PAGE_SIZE', raw.RECODER_MAX_PAGE_SIZE, 10_000);
  if (!(
    Number.isInteger(raw.RECODER_HISTORY_CACHE) &&
    raw.RECODER_HISTORY_CACHE >= 0 &&
    raw.RECODER_HISTORY_CACHE <= 1e9
  ))
    problems.push('  RECODER_HISTORY_CACHE: must be an integer in 0..1000000000');
  positive('RECODER_MAX_RESPONSE_BYTES', raw.RECODER_MAX_RESPONSE_BYTES, 1024 * 1024 * 1024);
  positive('RECODER_BATCH_MAX', raw.RECODER_BATCH_MAX, 4096);
  positive('RECODER_BATCH_IN_FLIGHT', raw.RECODER_BATCH_IN_FLIGHT, 64);
  positive('RECODER_MODEL_QUEUE', raw.RECODER_MODEL_QUEUE, 1_000_000);
  positive('RECODER_MODEL_DEADLINE_MS', raw.RECODER_MODEL_DEADLINE_MS, 600_000);
  if (!Number.isInteger(raw.RECODER_MODEL_THREADS) || raw.RECODER_MODEL_THREADS < 0 || raw.RECODER_MODEL_THREADS > 64)
    problems.push('  RECODER_MODEL_THREADS: must be an integer in 0..64');
  if (!(raw.RECODER_BATCH_WINDOW_MS >= 0 && raw.RECODER_BATCH_WINDOW_MS <= 2))
    problems.push('  RECODER_BATCH_WINDOW_MS: must be a number in 0..2');
  if (!Number.isInteger(raw.RECODER_EXACT_SEARCH_BELOW) || raw.RECODER_EXACT_SEARCH_BELOW < 0) {
    problems.push('  RECODER_EXACT_SEARCH_BELOW: must be an integer ≥ 0');
  }
  if (raw.RECODER_HNSW_M !== undefined) positive('RECODER_HNSW_M', raw.RECODER_HNSW_M, 256);
  positive('RECODER_MAX_QUERY_DEPTH', raw.RECODER_MAX_QUERY_DEPTH, 100);
  positive('RECODER_MAX_ALIASES', raw.RECODER_MAX_ALIASES, 10_000);
  positive('RECODER_MAX_QUERY_COST', raw.RECODER_MAX_QUERY_COST, 1e9);
  if (raw.RECODER_MAX_COST_IN_FLIGHT !== undefined)
    positive('RECODER_MAX_COST_IN_FLIGHT', raw.RECODER_MAX_COST_IN_FLIGHT, 1e12);
  if (!Number.isInteger(raw.RECODER_RATE_LIMIT_PER_MINUTE) || raw.RECODER_RATE_LIMIT_PER_MINUTE < 0) {
    problems.push('  RECODER_RATE_LIMIT_PER_MINUTE: must be an integer ≥ 0 (0 = unlimited)');
  }
  if (!Number.isInteger(raw.RECODER_AUTH_FAILURES_PER_MINUTE) || raw.RECODER_AUTH_FAILURES_PER_MINUTE < 0) {
    problems.push('  RECODER_AUTH_FAILURES_PER_MINUTE: must be an integer ≥ 0 (0 = unlimited)');
  }
  const rateLimitStore = (raw.RECODER_RATE_LIMIT_STORE ??
    (raw.REDIS_URL ? 'redis' : 'postgres')) as Env['rateLimitStore'];
  if (rateLimitStore === 'redis' && !raw.REDIS_URL) problems.push('  RECODER_RATE_LIMIT_STORE: redis needs REDIS_URL');
  const proxy = raw.RECODER_TRUST_PROXY.trim();
  const trustProxy =
    proxy === 'false' || proxy === '' ? false : proxy === 'true' ? true : /^\d+$/.test(proxy) ? Number(proxy) : proxy;
  if (raw.RECODER_HNSW_EF_CONSTRUCTION !== undefined)
    positive('RECODER_HNSW_EF_CONSTRUCTION', raw.RECODER_HNSW_EF_CONSTRUCTION, 10_000);
  if (raw.RECODER_HNSW_EF !== undefined) positive('RECODER_HNSW_EF', raw.RECODER_HNSW_EF, 10_000);
  if (
    !Number.isInteger(raw.RECODER_TRAINING_THREAD_NICE) ||
    raw.RECODER_TRAINING_THREAD_NICE < 0 ||
    raw.RECODER_TRAINING_THREAD_NICE > 19
  ) {
    problems.push('  RECODER_TRAINING_THREAD_NICE: must be an integer in 0..19');
  }
  const schedule = raw.RECODER_RETRAIN_SCHEDULE.trim();
  if (schedule && !/^(\S+\s+){4,5}\S+$/.test(schedule))
    problems.push(`  RECODER_RETRAIN_SCHEDULE: "${schedule}" is not a cron expression of 5 (or 6) fields`);
  if (!Number.isInteger(raw.RECODER_RETRAIN_EPOCHS) || raw.RECODER_RETRAIN_EPOCHS < 0)
    problems.push('  RECODER_RETRAIN_EPOCHS: must be an integer ≥ 0');
  if (!Number.isInteger(raw.RECODER_AUTO_BUDGET_SECONDS) || raw.RECODER_AUTO_BUDGET_SECONDS < 10)
    problems.push('  RECODER_AUTO_BUDGET_SECONDS: must be an integer ≥ 10');
  if (schedule && raw.RECODER_RETRAIN_KIND === 'AUTOREC' && raw.RECODER_RETRAIN_ACTIVATE === 'IF_BETTER') {
    problems.push(
      '  RECODER_RETRAIN_ACTIVATE: IF_BETTER compares NDCG@100 on held-out users, which AUTOREC does not rank; use ALWAYS or NEVER',
    );
  }
  if (!Number.isInteger(raw.RECODER_IMAGE_SIZE) || raw.RECODER_IMAGE_SIZE < 8 || raw.RECODER_IMAGE_SIZE > 128) {
    problems.push('  RECODER_IMAGE_SIZE: must be an integer in 8..128');
  }
  // Base64 makes an upload a third larger, and request bodies are capped at 16 MiB.
  positive('RECODER_MAX_IMAGE_BYTES', raw.RECODER_MAX_IMAGE_BYTES, 12 * 1024 * 1024);
  if (!(raw.RECODER_IMPRESSION_SAMPLE_RATE >= 0 && raw.RECODER_IMPRESSION_SAMPLE_RATE <= 1))
    problems.push('  RECODER_IMPRESSION_SAMPLE_RATE: must be a number in 0..1');
  if (
    !Number.isInteger(raw.RECODER_IMPRESSION_RETENTION_DAYS) ||
    raw.RECODER_IMPRESSION_RETENTION_DAYS < 0 ||
    raw.RECODER_IMPRESSION_RETENTION_DAYS > 36_500
  ) {
    problems.push('  RECODER_IMPRESSION_RETENTION_DAYS: must be an integer in 0..36500 (0 = kept)');
  }
  positive('RECODER_IMPRESSION_BUFFER', raw.RECODER_IMPRESSION_BUFFER, 10_000_000);
  positive('RECODER_IMPRESSION_FLUSH_MS', raw.RECODER_IMPRESSION_FLUSH_MS, 600_000);
  if (!(raw.RECODER_ATTRIBUTION_WINDOW_HOURS > 0 && raw.RECODER_ATTRIBUTION_WINDOW_HOURS <= 24 * 90))
    problems.push('  RECODER_ATTRIBUTION_WINDOW_HOURS: must be a number in (0, 2160]');
  let popularityWeights: Record<string, number> = {};
  try {
    popularityWeights = parseWeights(raw.RECODER_POPULARITY_WEIGHTS);
  } catch (error) {
    problems.push(`  ${(error as Error).message}`);
  }
  if (problems.length > 0) throw new Error(`Invalid environment:\n${problems.join('\n')}`);
  const production = raw.NODE_ENV === 'production';
  return {
    databaseUrl: raw.DATABASE_URL,
    databaseReadUrl: raw.DATABASE_READ_URL ?? null,
    embeddedPgDir: path.resolve(raw.RECODER_EMBEDDED_PG_DIR),
    embeddedPgPort: raw.RECODER_EMBEDDED_PG_PORT,
    host: raw.HOST,
    port: raw.PORT,
    production,
    graphiql: raw.GRAPHIQL ?? !production,
    dashboard: raw.RECODER_DASHBOARD,
    introspection: raw.RECODER_INTROSPECTION ?? !production,
    auth: raw.RECODER_AUTH as Env['auth'],
    queryLimits: {
      depth: raw.RECODER_MAX_QUERY_DEPTH,
      aliases: raw.RECODER_MAX_ALIASES,
      cost: raw.RECODER_MAX_QUERY_COST,
      costInFlight: raw.RECODER_MAX_COST_IN_FLIGHT ?? 2 * raw.RECODER_MAX_QUERY_COST,
    },
    rateLimitPerMinute: raw.RECODER_RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: raw.RECODER_AUTH_FAILURES_PER_MINUTE,
    rateLimitStore,
    redisUrl: raw.REDIS_URL,
    trustProxy,
    logFormat: (raw.LOG_FORMAT as Env['logFormat'] | undefined) ?? (production ? 'json' : 'pretty'),
    metrics: raw.RECODER_METRICS,
    logLevel: raw.LOG_LEVEL as Env['logLevel'],
    createUnknownItems: raw.RECODER_CREATE_UNKNOWN_ITEMS,
    maxBatchSize: raw.RECODER_MAX_BATCH_SIZE,
    maxPageSize: raw.RECODER_MAX_PAGE_SIZE,
    maxResponseBytes: raw.RECODER_MAX_RESPONSE_BYTES,
    historyCacheInteractions: raw.RECODER_HISTORY_CACHE,
    modelWork: {
      maxBatch: raw.RECODER_BATCH_MAX,
      windowMs: raw.RECODER_BATCH_WINDOW_MS,
      inFlight: raw.RECODER_BATCH_IN_FLIGHT,
      maxQueue: raw.RECODER_MODEL_QUEUE,
      deadlineMs: raw.RECODER_MODEL_DEADLINE_MS,
      threads: raw.RECODER_MODEL_THREADS,
    },
    popularityWeights,
    tfBackend: raw.RECODER_TF_BACKEND as Env['tfBackend'],
    nativeGemm: raw.RECODER_NATIVE_GEMM as Env['nativeGemm'],
    exactSearchBelow: raw.RECODER_EXACT_SEARCH_BELOW,
    hnsw: { m: raw.RECODER_HNSW_M, efConstruction: raw.RECODER_HNSW_EF_CONSTRUCTION, ef: raw.RECODER_HNSW_EF },
    trainingWorker: raw.RECODER_TRAINING_WORKER as Env['trainingWorker'],
    trainingThreadNice: raw.RECODER_TRAINING_THREAD_NICE,
    impressions: {
      sampleRate: raw.RECODER_IMPRESSION_SAMPLE_RATE,
      retentionDays: raw.RECODER_IMPRESSION_RETENTION_DAYS,
      bufferSize: raw.RECODER_IMPRESSION_BUFFER,
      flushMs: raw.RECODER_IMPRESSION_FLUSH_MS,
      attributionWindowHours: raw.RECODER_ATTRIBUTION_WINDOW_HOURS,
    },
    retrain: {
      schedule,
      kind: raw.RECODER_RETRAIN_KIND as Env['retrain']['kind'],
      activate: raw.RECODER_RETRAIN_ACTIVATE as Env['retrain']['activate'],
      epochs: raw.RECODER_RETRAIN_EPOCHS || null,
    },
    autoBudgetSeconds: raw.RECODER_AUTO_BUDGET_SECONDS,
    images: {
      size: raw.RECODER_IMAGE_SIZE,
      channels: raw.RECODER_IMAGE_CHANNELS as 1 | 3,
      maxBytes: raw.RECODER_MAX_IMAGE_BYTES,
    },
  };
}
