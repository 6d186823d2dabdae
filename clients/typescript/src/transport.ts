import {
  errorFromGraphQL,
  isRefusedBeforeExecution,
  isTransient,
  RecoderBadResponseError,
  RecoderError,
  RecoderNetworkError,
  RecoderRateLimitedError,
  RecoderServiceUnavailableError,
  RecoderTimeoutError,
  type GraphQLErrorEntry,
} from './errors.js';

/** Connection errors where the request never reached the server (safe to resend anything). */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export interface TransportOptions {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql. */
  url: string;
  apiKey?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (default: the global fetch of Node ≥ 20 and browsers). */
  fetch?: typeof fetch;
}

export interface SendOptions {
  operationName?: string;
  /** Abort the request after this many milliseconds (0: never). */
  timeoutMs: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Sends one GraphQL request and returns its `data`, or throws the typed error of the answer. */
export class Transport {
  private readonly fetchImpl: typeof fetch;
  private readonly baseHeaders: Record<string, string>;

  constructor(private readonly options: TransportOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof this.fetchImpl !== 'function')
      throw new TypeError('RecoderClient: no fetch implementation (Node ≥ 20 has one; pass `fetch`)');
    this.baseHeaders = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      ...options.headers,
    };
  }

  get url(): string {
    return this.options.url;
  }

  async send<TData>(query: string, variables: Record<string, unknown> | undefined, opts: SendOptions): Promise<TData> {
    const operation = opts.operationName;
    const body = JSON.stringify(
      variables === undefined ? { query, operationName: operation } : { query, operationName: operation, variables },
    );
    // A timer cleared on completion (AbortSignal.timeout's would stay scheduled for timeoutMs after
    // every request: thousands of live timers at a few hundred requests per second).
    const timeout = opts.timeoutMs > 0 ? new AbortController() : undefined;
    const timer = timeout ? setTimeout(() => timeout.abort(), opts.timeoutMs) : undefined;
    const signal =
      timeout && opts.signal ? AbortSignal.any([timeout.signal, opts.signal]) : (timeout?.signal ?? opts.signal);
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(this.options.url, {
        method: 'POST',
        headers: opts.headers ? { ...this.baseHeaders, ...opts.headers } : this.baseHeaders,
        body,
        signal,
      });
      text = await response.text();
    } catch (error) {
      throw this.transportError(error, operation, opts, timeout?.signal);
    } finally {
      clearTimeout(timer);
    }
    return parseResponse<TData>(response.status, response.headers, text, operation);
  }

  private transportError(
    error: unknown,
    operation: string | undefined,
    opts: SendOptions,
    timeout: AbortSignal | undefined,
  ): unknown {
    if (opts.signal?.aborted) return opts.signal.reason ?? error; // the caller aborted: not ours to wrap
    if (timeout?.aborted) {
      return new RecoderTimeoutError(
        `${operation ?? 'request'}: no answer from ${this.options.url} within ${opts.timeoutMs} ms`,
        opts.timeoutMs,
        { operation, cause: error },
      );
    }
    const code = causeCode(error);
    const connected = code === undefined || !NOT_CONNECTED.has(code);
    const detail = code ?? (error instanceof Error ? error.message : String(error));
    return new RecoderNetworkError(
      `${operation ?? 'request'}: ${this.options.url} did not answer (${detail})`,
      'NETWORK_ERROR',
      { connected, errno: code },
      { operation, cause: error },
    );
  }
}

/** The GraphQL answer (200 with data or errors, 4xx with errors under application/graphql-response+json), or a typed error. */
export function parseResponse<TData>(status: number, headers: Headers, text: string, operation?: string): TData {
  let json: { data?: unknown; errors?: GraphQLErrorEntry[] } | undefined;
  try {
    const parsed: unknown = text.length > 0 ? JSON.parse(text) : undefined;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as typeof json;
  } catch {
    json = undefined;
  }
  const errors = json?.errors;
  if (status === 200 && errors === undefined && json?.data && typeof json.data === 'object') return json.data as TData; // the hot path
  const retryAfter = parseRetryAfter(headers.get('retry-after'));
  if (Array.isArray(errors) && errors.length > 0) {
    throw errorFromGraphQL(errors[0], { operation, status, retryAfter, errors, data: json?.data ?? undefined });
  }
  if (status === 429) {
    throw new RecoderRateLimitedError(
      `${operation ?? 'request'}: rate limited (HTTP 429)`,
      'RATE_LIMITED',
      {},
      { operation, status, retryAfter },
    );
  }
  if (status === 503) {
    throw new RecoderServiceUnavailableError(
      `${operation ?? 'request'}: service unavailable (HTTP 503)`,
      'SERVICE_UNAVAILABLE',
      {},
      { operation, status, retryAfter },
    );
  }
  if (status >= 200 && status < 300 && json && json.data && typeof json.data === 'object') return json.data as TData;
  const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  throw new RecoderBadResponseError(
    `${operation ?? 'request'}: HTTP ${status} without a GraphQL answer: ${snippet}`,
    'BAD_RESPONSE',
    {},
    { operation, status, retryAfter },
  );
}

/** Retry-After as seconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

function causeCode(error: unknown): string | undefined {
  for (
    let e: unknown = error, depth = 0;
    e && typeof e === 'object' && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff delay, doubled per retry (with jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error is thrown. */
  maxRetryAfterMs: number;
}

/**
 * Runs `attempt` until it succeeds, the error is not transient, or the retries are spent. A request
 * that may have run on the server (no answer, 5xx, INTERNAL_SERVER_ERROR) is retried only when it is
 * `idempotent`; one refused before execution (429, SERVICE_UNAVAILABLE, connection refused) always.
 */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  idempotent: boolean,
  signal?: AbortSignal,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= policy.retries || !isTransient(error) || !(idempotent || isRefusedBeforeExecution(error))) throw error;
      const wait = retryDelayMs(error, n, policy);
      if (wait === undefined) throw error;
      await sleep(wait, signal);
    }
  }
}

/** How long to wait before retry `n` (0-based): the server's Retry-After, else exponential backoff with jitter; undefined when Retry-After is too long. */
export function retryDelayMs(
  error: unknown,
  n: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'>,
  random = Math.random,
): number | undefined {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** n) * (0.5 + random() / 2);
  const after = error instanceof RecoderError ? retryAfterSeconds(error) : undefined;
  if (after === undefined) return backoff;
  const ms = after * 1000;
  if (ms > policy.maxRetryAfterMs) return undefined;
  return Math.max(ms, Math.min(backoff, policy.baseDelayMs));
}

function retryAfterSeconds(error: RecoderError): number | undefined {
  if (error instanceof RecoderRateLimitedError || error instanceof RecoderServiceUnavailableError)
    return error.retryAfter;
  return undefined;
}

/** Resolves after `ms` (rejects with the signal's reason if it aborts first). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
