import {
  RecoderClient,
  RecommendationsDocument,
  TrainingRunDocument,
  type RecommendationsQuery,
} from '../src/index.js';

/**
 * The typings a product engineer gets (checked by `npm run typecheck`, which compiles this file):
 * arguments and results come from the schema; a wrong argument or field does not compile.
 * The calls go to a fake fetch that records them.
 */
describe('typed methods', () => {
  const sent: unknown[] = [];
  const fakeFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    sent.push(JSON.parse(String(init!.body)));
    const data = {
      recommendations: { source: 'MODEL', modelVersionId: 1, reason: null, items: [] },
      trainingRun: { id: 1, status: 'QUEUED' },
    };
    return new Response(JSON.stringify({ data }), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const client = new RecoderClient({ url: 'http://recoder.test/graphql', fetch: fakeFetch });
  afterAll(() => client.close());

  it('checks arguments and result fields at compile time', async () => {
    const recs = await client.recommendations({
      userId: '1',
      limit: 5,
      filter: { categories: ['a'], includeSeen: true },
    });
    const source: 'MODEL' | 'POPULARITY' | 'COLD_START' = recs.source;
    const titles: (string | null)[] = recs.items.map((r) => r.item.title);
    expect([source, titles]).toEqual(['MODEL', []]);

    // @ts-expect-error userId is required
    await client.recommendations({ limit: 5 });
    // @ts-expect-error no such argument
    await client.recommendations({ userId: '1', count: 5 });
    // @ts-expect-error kind is an enum of the schema
    client.track({ userId: '1', itemId: '2', kind: 'WATCHED' });
    // @ts-expect-error the model kinds are the schema's
    await client.trainModel({ kind: 'SVD' }).catch(() => undefined);
    // @ts-expect-error no such result field
    void recs.items[0]?.item.price;

    // request(): a typed document infers its result and checks its variables.
    const typed = await client.request(RecommendationsDocument, { userId: '1' });
    const same: RecommendationsQuery = typed;
    expect(same.recommendations.source).toBe('MODEL');
    // @ts-expect-error id must be an Int
    await client.request(TrainingRunDocument, { id: '1' }).catch(() => undefined);
    expect(sent.length).toBeGreaterThan(3);
    expect(sent[0]).toMatchObject({
      operationName: 'Recommendations',
      variables: { userId: '1', limit: 5, filter: { categories: ['a'], includeSeen: true } },
    });
  });
});
