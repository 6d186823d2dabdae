import type { FastifyInstance } from 'fastify';
import { RecoderClient } from '@recoder/client';
import { buildApp } from '../examples/product-backend/src/app.js';
import { sql, truncateAll } from './helpers.js';
import { RecoderServer } from './recoder-server.js';
import { GROUPS, PER_GROUP, itemId, tasteInteractions } from './training-data.js';

/**
 * examples/product-backend (Fastify + the built @recoder/client package, imported by name) against
 * a real Recoder server: shoppers view products and place orders through the shop's routes, the
 * shop's events reach Recoder exactly once (a retried order too), a model trained on them ranks
 * the shopper's taste first on the rendered recommendations page.
 */
describe('examples/product-backend against a real Recoder server', () => {
  let server: RecoderServer;
  let shop: FastifyInstance;
  let admin: RecoderClient;

  beforeAll(async () => {
    await truncateAll();
    server = await RecoderServer.start({ RECODER_TRAINING_WORKER: 'thread' });
    admin = new RecoderClient({ url: server.url, timeoutMs: 30_000 });
    const items = [];
    for (let g = 0; g < GROUPS; g++)
      for (let i = 0; i < PER_GROUP; i++)
        items.push({ id: itemId(g, i), title: `Product ${g}/${i}`, categories: [`g${g}`] });
    await admin.upsertItems(items);
    shop = buildApp({
      recoder: new RecoderClient({ url: server.url, track: { flushIntervalMs: 100, batchSize: 200 } }),
    });
    await shop.ready();
  }, 120_000);

  afterAll(async () => {
    await shop?.close();
    await admin?.close();
    await server?.stop();
    await truncateAll();
  });

  it('records views and purchases through the shop, each once, and renders model recommendations', async () => {
    // Shoppers browse: a VIEW per product page; the page renders without a model (no suggestions yet).
    const views = tasteInteractions(80);
    for (const v of views) {
      const res = await shop.inject({
        method: 'GET',
        url: `/products/${v.itemId}`,
        headers: { 'x-user-id': v.userId },
      });
      expect(res.statusCode).toBe(200);
    }
    expect((await shop.inject({ method: 'GET', url: '/products/m0-0' })).statusCode).toBe(401);
    // An order of two lines, posted twice (the shopper's browser retried): purchases count once.
    const order = { orderId: '981', lines: [{ productId: 'm1-3', quantity: 2 }, { productId: 'm1-4' }] };
    for (let k = 0; k < 2; k++) {
      const res = await shop.inject({ method: 'POST', url: '/orders', headers: { 'x-user-id': 'u1' }, payload: order });
      expect(res.statusCode).toBe(201);
    }
    expect(
      (
        await shop.inject({
          method: 'POST',
          url: '/orders',
          headers: { 'x-user-id': 'u1' },
          payload: { orderId: '1', lines: [] },
        })
      ).statusCode,
    ).toBe(400);

    const health = await shop.inject({ method: 'GET', url: '/healthz' });
    expect(health.json().events.tracked).toBe(views.length + 4);

    // The events arrive within the flush interval, without anyone awaiting them.
    const deadline = Date.now() + 30_000;
    let counts: { kind: string; n: number }[] = [];
    while (Date.now() < deadline) {
      counts = await sql(`SELECT kind::text, count(*)::int AS n FROM interactions GROUP BY kind ORDER BY kind`);
      if (counts.reduce((a, c) => a + c.n, 0) >= views.length + 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(counts).toEqual([
      { kind: 'PURCHASE', n: 2 },
      { kind: 'VIEW', n: views.length },
    ]);
    const purchases = await sql(`SELECT event_id, value FROM interactions WHERE kind = 'PURCHASE' ORDER BY event_id`);
    expect(purchases).toEqual([
      { event_id: 'order-981-line-0', value: 2 },
      { event_id: 'order-981-line-1', value: 1 },
    ]);
    const stats = (await shop.inject({ method: 'GET', url: '/healthz' })).json().events;
    expect(stats).toMatchObject({
      tracked: views.length + 4,
      stored: views.length + 2,
      duplicates: 2,
      dropped: 0,
      failed: 0,
      rejected: 0,
    });

    // Before a model: popular products.
    const before = await shop.inject({
      method: 'GET',
      url: '/users/u1/recommendations',
      headers: { accept: 'application/json' },
    });
    expect(before.json()).toMatchObject({ source: 'POPULARITY' });

    const run = await admin.waitForTrainingRun(
      (await admin.trainModel({ kind: 'EASE', lambda: 50, activate: 'ALWAYS' })).id,
      { pollMs: 200, waitMs: 120_000 },
    );
    expect(run.status).toBe('SUCCEEDED');

    // Activation reaches the server asynchronously (NOTIFY, then the version loads): wait for it.
    let page = await shop.inject({ method: 'GET', url: '/users/u1/recommendations' });
    for (const until = Date.now() + 60_000; !page.body.includes('data-source="MODEL"') && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 200));
      page = await shop.inject({ method: 'GET', url: '/users/u1/recommendations' });
    }
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain(`data-source="MODEL"`);
    const listed = [...page.body.matchAll(/data-item="([^"]+)"/g)].map((m) => m[1]);
    expect(listed).toHaveLength(10);
    // u1 browsed taste group 1 (tasteInteractions: user n likes group n % 4): its group comes first.
    expect(listed.filter((id) => id.startsWith('m1-')).length).toBeGreaterThanOrEqual(8);

    const product = await shop.inject({ method: 'GET', url: '/products/m2-0', headers: { 'x-user-id': 'u2' } });
    expect([...product.body.matchAll(/data-item="(m\d)-/g)].filter((m) => m[1] === 'm2').length).toBeGreaterThanOrEqual(
      4,
    );
    expect(
      (await shop.inject({ method: 'GET', url: '/products/nope', headers: { 'x-user-id': 'u2' } })).statusCode,
    ).toBe(404);

    const home = await shop.inject({ method: 'GET', url: '/' });
    expect([...home.body.matchAll(/data-item=/g)]).toHaveLength(10);
  }, 240_000);
});
