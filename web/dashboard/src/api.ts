import type { TadaDocumentNode } from 'gql.tada';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { documentText } from './graphql';

/** The API key, kept for this browser tab's session (sessionStorage), never in a URL. */
const KEY_STORAGE = 'recoder-dashboard-key';
/** The GraphQL endpoint, relative to the page (/dashboard/ → /graphql), so a path prefix works. */
const ENDPOINT = '../graphql';

export const storedKey = (): string | null => sessionStorage.getItem(KEY_STORAGE);
export const storeKey = (key: string | null) =>
  key === null ? sessionStorage.removeItem(KEY_STORAGE) : sessionStorage.setItem(KEY_STORAGE, key);

/** A GraphQL error with its stable code (extensions.code), or a transport failure (code HTTP_<status>/NETWORK). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Runs one operation with the stored key; resolves to `data`, rejects with the first error. */
export async function request<R, V>(doc: TadaDocumentNode<R, V>, variables?: V, key = storedKey()): Promise<R> {
  const query = documentText(doc);
  let response: Response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ query, variables: variables ?? {} }),
    });
  } catch (error) {
    throw new ApiError(`cannot reach the server: ${(error as Error).message}`, 'NETWORK');
  }
  let body: { data?: R | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError(`the server answered HTTP ${response.status}`, `HTTP_${response.status}`);
  }
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new ApiError(e.message, e.extensions?.code ?? `HTTP_${response.status}`);
  }
  if (!body.data)
    throw new ApiError(`the server answered HTTP ${response.status} without data`, `HTTP_${response.status}`);
  return body.data;
}

export interface QueryState<R> {
  data: R | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs a query when its variables change (compared as JSON), and with `pollMs` again that long
 * after each answer while the component is shown (never two in flight: a slow server is polled
 * more slowly, not flooded, and every answer is shown); keeps the previous data while reloading.
 */
export function useQuery<R, V>(
  doc: TadaDocumentNode<R, V>,
  variables: V | null,
  options: { pollMs?: number } = {},
): QueryState<R> {
  const [state, setState] = useState<{ data?: R; error?: ApiError; loading: boolean }>({ loading: variables !== null });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  const pollMs = useRef(options.pollMs);
  pollMs.current = options.pollMs;
  const varsKey = variables === null ? null : JSON.stringify(variables);
  useEffect(() => {
    if (varsKey === null) return;
    const mine = ++seq.current;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((s) => ({ ...s, loading: true }));
    const next = () => {
      if (mine === seq.current && pollMs.current) timer = setTimeout(() => setTick((t) => t + 1), pollMs.current);
    };
    request(doc, JSON.parse(varsKey) as V).then(
      (data) => {
        if (mine === seq.current) setState({ data, loading: false });
        next();
      },
      (error: ApiError) => {
        if (mine === seq.current) setState((s) => ({ data: s.data, error, loading: false }));
        next();
      },
    );
    return () => clearTimeout(timer);
  }, [doc, varsKey, tick]);
  // Polling switched on (e.g. a run was queued): ask again now; the answers keep it going.
  const polling = !!options.pollMs;
  const wasPolling = useRef(polling);
  useEffect(() => {
    if (polling && !wasPolling.current) setTick((t) => t + 1);
    wasPolling.current = polling;
  }, [polling]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
