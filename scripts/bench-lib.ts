import { readFileSync } from 'node:fs';

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

/** A GraphQL answer, read by shape (the types live in schema.gql). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- GraphQL answers of several shapes
export type GraphqlAnswer = { data?: any; errors?: unknown };

export async function postGraphql(port: number, query: string, variables: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<GraphqlAnswer> {
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
