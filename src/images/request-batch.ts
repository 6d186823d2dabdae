/**
 * Per-request batching for GraphQL field resolvers (what DataLoader does, in a few lines): loads
 * asked for while one resolver wave runs (e.g. `image` of every item of a page) become one query.
 * Keyed by the request's GraphQL context, so nothing is shared between requests.
 */
export class RequestBatch<K, V> {
  private pending: { keys: Set<K>; result: Promise<Map<K, V>> } | null = null;

  constructor(private readonly loadMany: (keys: K[]) => Promise<Map<K, V>>) {}

  load(key: K): Promise<V | undefined> {
    if (!this.pending) {
      const keys = new Set<K>();
      const result = new Promise<Map<K, V>>((resolve, reject) => {
        // After the current wave of resolvers (their promise chains settle first).
        setImmediate(() => {
          this.pending = null;
          this.loadMany([...keys]).then(resolve, reject);
        });
      });
      this.pending = { keys, result };
    }
    this.pending.keys.add(key);
    return this.pending.result.then((values) => values.get(key));
  }
}

/** One batch per request context and name. */
export class RequestBatches {
  private readonly byContext = new WeakMap<object, Map<string, unknown>>();

  get<K, V>(context: object, name: string, loadMany: (keys: K[]) => Promise<Map<K, V>>): RequestBatch<K, V> {
    let batches = this.byContext.get(context);
    if (!batches) this.byContext.set(context, (batches = new Map()));
    let batch = batches.get(name) as RequestBatch<K, V> | undefined;
    if (!batch) batches.set(name, (batch = new RequestBatch(loadMany)));
    return batch;
  }
}
