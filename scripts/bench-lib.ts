import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import autocannon from 'autocannon';
import type { CsrMatrix } from '../src/core/data/csr.js';
import { Random } from '../src/core/data/random.js';
import { excludeSet } from '../src/core/index/top-k.js';
import { ExactIndex, HnswIndex, INDEX_DEFAULTS, recallAtK } from '../src/core/index/vector-index.js';
import type { Autoencoder } from '../src/core/models/autoencoder.js';

/**
 * What the server benchmarks share: the environment of a measured API process, a GraphQL POST,
 * polling, and the process's memory.
 */

/** Environment of an API process under a benchmark: production defaults, open (no keys), no rate limit. */
export const BENCH_SERVER_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  GRAPHIQL: 'false',
  RECODER_AUTH: 'off',
  RECODER_RATE_LIMIT_PER_MINUTE: '0',
  HOST: '127.0.0.1',
};

const children = new Set<ChildProcess>();
let signalsHandled = false;

/**
 * Ties a spawned process's life to this one: when this benchmark is interrupted (SIGINT, or SIGTERM
 * from e.g. `timeout`), the child gets SIGTERM too, instead of running on unowned (a stale API
 * process once kept a core busy for 81 minutes). Returns the child.
 */
export function stopWithBenchmark<T extends ChildProcess>(child: T): T {
  if (!signalsHandled) {
    signalsHandled = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    }
  }
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A GraphQL answer, read by shape (the types live in schema.gql). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- GraphQL answers of several shapes
export type GraphqlAnswer = { data?: any; errors?: unknown };

export async function postGraphql(
  port: number,
  query: string,
  variables: Record<string, unknown> = {},
  timeoutMs = 30_000,
): Promise<GraphqlAnswer> {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return (await res.json()) as GraphqlAnswer;
}

/**
 * Polls `fn` until it returns true; errors count as "not yet" unless `fatal` says otherwise.
 * @param abort checked before each try: a reason to give up at once (e.g. the server exited)
 */
export async function waitUntil(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs: number,
  options: { intervalMs?: number; fatal?: (error: unknown) => boolean; abort?: () => string | null } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = options.abort?.();
    if (reason) throw new Error(`${reason} while waiting for ${what}`);
    try {
      if (await fn()) return;
    } catch (error) {
      if (options.fatal?.(error)) throw error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
export function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** One autocannon run: requests per second, latency percentiles (ms), and failed answers. */
export interface RunResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  failed: number;
}

/**
 * autocannon on loopback: `query` with `variable` drawn from `ids` (seeded), `connections`
 * connections for `seconds`. An answer fails unless it is HTTP 200 without GraphQL errors and its
 * first field (or that field's `items`) holds exactly `expectItems` entries.
 */
export async function cannon(
  port: number,
  query: string,
  variable: string,
  ids: unknown[],
  seconds: number,
  connections: number,
  expectItems: number,
  onTick?: (elapsed: number) => void,
): Promise<RunResult> {
  const rng = new Random(7);
  let failed = 0;
  const instance = autocannon({
    url: `http://127.0.0.1:${port}/graphql`,
    connections,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({ query, variables: { [variable]: ids[rng.int(ids.length)] } }),
        }),
        onResponse: (status, body) => {
          if (status !== 200) return void failed++;
          const json = JSON.parse(body) as {
            errors?: unknown;
            data?: Record<string, { items?: unknown[] } | unknown[] | null>;
          };
          const data = json.data && Object.values(json.data)[0];
          const items = Array.isArray(data) ? data : data?.items;
          if (json.errors || !Array.isArray(items) || items.length !== expectItems) failed++;
        },
      },
    ],
  });
  const t0 = Date.now();
  const ticker = onTick ? setInterval(() => onTick((Date.now() - t0) / 1000), 250) : undefined;
  const result = await instance;
  clearInterval(ticker);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failed: failed + result.errors + result.timeouts + result.non2xx,
  };
}

/**
 * Recall@10 of an HNSW graph over an autoencoder's item vectors (inner product, the serving
 * build parameters: hnswParamsFor the catalog's size) against exact search, for the histories' queries with each
 * history's items excluded; with the build time and the mean milliseconds per query of both.
 */
export async function hnswRecall(
  ae: Autoencoder,
  histories: CsrMatrix,
): Promise<{ recall: number; buildSeconds: number; hnswMs: number; exactMs: number }> {
  const D = ae.itemVectorDim;
  const vectors = ae.itemVectors();
  const t1 = performance.now();
  const hnsw = await HnswIndex.build('ip', D, vectors, INDEX_DEFAULTS.hnsw);
  const buildSeconds = (performance.now() - t1) / 1000;
  const exact = new ExactIndex('ip', D, vectors);
  const queries = ae.userQueries(histories);
  const approx = [];
  const truth = [];
  let tH = 0;
  let tE = 0;
  for (let k = 0; k < histories.numRows; k++) {
    const q = queries.subarray(k * D, (k + 1) * D);
    const seen = excludeSet(histories.indices.subarray(histories.indptr[k], histories.indptr[k + 1]));
    let s = performance.now();
    approx.push(hnsw.search(q, 10, seen));
    tH += performance.now() - s;
    s = performance.now();
    truth.push(exact.search(q, 10, seen));
    tE += performance.now() - s;
  }
  hnsw.dispose();
  exact.dispose();
  return {
    recall: recallAtK(approx, truth),
    buildSeconds,
    hnswMs: tH / histories.numRows,
    exactMs: tE / histories.numRows,
  };
}

/** The machine line a benchmark ends with: cores and the load average (1, 5, 15 min) at the end. */
export function machineLine(): string {
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  return `${os.cpus().length} cores, load average at the end ${load}`;
}
