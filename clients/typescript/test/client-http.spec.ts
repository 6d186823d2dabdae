import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  RecoderClient,
  RecoderBadUserInputError,
  RecoderInternalServerError,
  RecoderRateLimitedError,
  RecoderTimeoutError,
} from '../src/index.js';

/**
 * The client's HTTP behaviour against a scripted HTTP server (the answers a real Recoder server
 * gives only under faults or load: 429 with Retry-After, 503, 500, a stall). The client against a
 * real server: test/client*.e2e-spec.ts.
 */

interface Seen {
  headers: http.IncomingHttpHeaders;
  body: { query: string; operationName?: string; variables?: Record<string, unknown> };
}
type Reply = { status: number; body: unknown; headers?: Record<string, string>; delayMs?: number };

describe('RecoderClient over HTTP', () => {
  let server: http.Server;
  let url: string;
  const seen: Seen[] = [];
  let script: ((req: Seen) => Reply)[] = [];
  let fallbackReply: (req: Seen) => Reply;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        const entry: Seen = { headers: req.headers, body: JSON.parse(raw) };
        seen.push(entry);
        const reply = (script.shift() ?? fallbackReply)(entry);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
          res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
        };
        if (reply.delayMs) setTimeout(send, reply.delayMs);
        else send();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen.length = 0;
    script = [];
    fallbackReply = () => ({ status: 200, body: { data: { popularItems: [] } } });
  });

  const popular = [1, 2, 3].map((i) => ({
    score: 10 - i,
    interactionCount: 10 - i,
    item: {
      id: `p${i}`,
      title: null,
      categories: i === 2 ? ['c'] : [],
      attributes: {},
      hidden: false,
      createdAt: '',
      updatedAt: '',
    },
  }));
  const recs = { recommendations: { source: 'MODEL', modelVersionId: 3, reason: null, items: [] } };
  const limited = (seconds: string): Reply => ({
    status: 429,
    headers: { 'retry-after': seconds },
    body: { errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }] },
  });

  it('POSTs JSON with the GraphQL media types, the API key, the operation name and the variables (undefined left out)', async () => {
    const client = new RecoderClient({ url, apiKey: 'rk_test', headers: { 'x-tenant': 't1' } });
    expect(client.url).toBe(`${url}/graphql`);
    script.push(() => ({ status: 200, body: { data: recs } }));
    await client.recommendations({ userId: 'u1', limit: undefined, filter: { categories: ['a'] } });
    expect(seen[0].headers).toMatchObject({
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: 'Bearer rk_test',
      'x-tenant': 't1',
    });
    expect(seen[0].body.operationName).toBe('Recommendations');
    expect(seen[0].body.variables).toEqual({ userId: 'u1', filter: { categories: ['a'] } });
    expect(seen[0].body.query).toMatch(/^\s*query Recommendations\(/);
    expect(seen[0].body.query).toContain('fragment ItemFields on Item');
  });

  it('retries 429 after its Retry-After, 503 and 500 for queries; a mutation that may have run is not resent', async () => {
    const client = new RecoderClient({ url, retries: 3, retryBaseDelayMs: 10 });
    script.push(
      () => limited('1'),
      () => ({ status: 503, body: { errors: [{ message: 'busy', extensions: { code: 'SERVICE_UNAVAILABLE' } }] } }),
      () => ({ status: 500, body: 'oops' }),
      () => ({ status: 200, body: { data: { popularItems: popular } } }),
    );
    const t0 = Date.now();
    expect(await client.popularItems()).toHaveLength(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950); // Retry-After: 1
    expect(seen).toHaveLength(4);

    // trainModel is not idempotent: an INTERNAL_SERVER_ERROR (it may have queued a run) is thrown, a 429 is retried.
    seen.length = 0;
    script.push(() => ({
      status: 200,
      body: {
        data: null,
        errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
      },
    }));
    await expect(client.trainModel({ kind: 'EASE' })).rejects.toBeInstanceOf(RecoderInternalServerError);
    expect(seen).toHaveLength(1);
    script.push(
      () => limited('0'),
      () => ({ status: 200, body: { data: { trainModel: { id: 1 } } } }),
    );
    await expect(client.trainModel({ kind: 'EASE' })).resolves.toMatchObject({ id: 1 });
    expect(seen).toHaveLength(3);

    // Input errors are never retried; retries: 0 per call turns retrying off.
    seen.length = 0;
    script.push(() => ({
      status: 200,
      body: { data: null, errors: [{ message: 'bad', extensions: { code: 'BAD_USER_INPUT', field: 'limit' } }] },
    }));
    await expect(client.popularItems({ limit: -1 })).rejects.toBeInstanceOf(RecoderBadUserInputError);
    script.push(() => limited('0'));
    await expect(client.popularItems({}, { retries: 0 })).rejects.toBeInstanceOf(RecoderRateLimitedError);
    expect(seen).toHaveLength(2);
  });

  it('times out with RecoderTimeoutError', async () => {
    const client = new RecoderClient({ url, timeoutMs: 100, retries: 0 });
    script.push(() => ({ status: 200, body: { data: recs }, delayMs: 2000 }));
    const error = await client.recommendations({ userId: 'u' }).catch((e) => e);
    expect(error).toBeInstanceOf(RecoderTimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', timeoutMs: 100 });
  });

  it('fallback: cached popular items when the server is slow or failing; input errors still throw', async () => {
    const client = new RecoderClient({
      url,
      retries: 0,
      fallback: { timeoutMs: 150, popularLimit: 50, popularItems: { kindWeights: [{ kind: 'PURCHASE', weight: 5 }] } },
    });
    fallbackReply = () => ({ status: 200, body: { data: { popularItems: popular } } });
    await client.warmFallback();
    expect(seen[0].body.variables).toEqual({ limit: 50, kindWeights: [{ kind: 'PURCHASE', weight: 5 }] });

    script.push(() => ({ status: 200, body: { data: recs }, delayMs: 1500 }));
    const slow = await client.recommendations({ userId: 'u', limit: 2, filter: { excludeItemIds: ['p1'] } });
    expect(slow).toEqual({
      recommendationId: null,
      source: 'POPULARITY',
      modelVersionId: null,
      reason: 'client fallback (cached popular items): the server did not answer within 150 ms',
      clientFallback: 'TIMEOUT',
      items: [popular[1], popular[2]].map((p) => ({ score: p.score, source: 'POPULARITY', item: p.item })),
    });

    script.push(() => ({ status: 502, body: 'bad gateway' }));
    const failing = await client.recommendationsForHistory({ itemIds: ['p3'], filter: { categories: ['c'] } });
    expect(failing).toMatchObject({ clientFallback: 'ERROR', items: [{ item: { id: 'p2' } }] });

    script.push(() => ({ status: 200, body: { data: recs } }));
    expect(await client.recommendations({ userId: 'u' })).toEqual(recs.recommendations);

    script.push(() => ({
      status: 200,
      body: { data: null, errors: [{ message: 'bad', extensions: { code: 'BAD_USER_INPUT', field: 'limit' } }] },
    }));
    await expect(client.recommendations({ userId: 'u', limit: -1 })).rejects.toBeInstanceOf(RecoderBadUserInputError);
    await client.close();
  });

  it('without fallback (the default) a slow server is waited for', async () => {
    const client = new RecoderClient({ url, retries: 0 });
    script.push(() => ({ status: 200, body: { data: recs }, delayMs: 400 }));
    expect(await client.recommendations({ userId: 'u' })).toEqual(recs.recommendations);
    await expect(client.warmFallback()).rejects.toThrow(/no `fallback` option/);
  });

  it('validates its options', () => {
    expect(() => new RecoderClient({ url: '' })).toThrow(/url/);
    expect(() => new RecoderClient({ url, timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => new RecoderClient({ url, fallback: { timeoutMs: 0 } })).toThrow(/fallback.timeoutMs/);
  });
});
