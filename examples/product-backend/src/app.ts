/**
 * A minimal product backend (Fastify) on Recoder through @recoder/client:
 *
 *   GET  /                              the catalog's popular products
 *   GET  /products/:id                  a product page: records a VIEW, shows similar products
 *   POST /orders                        { orderId, lines: [{ productId, quantity }] }: records one PURCHASE per line
 *   GET  /users/:id/recommendations     the user's recommendations, as HTML (or JSON with Accept: application/json)
 *   GET  /healthz                       the event buffer's counters
 *
 * The shopper is the `x-user-id` header (a real shop would use its session). Views and purchases
 * go through client.track(): the handler answers without waiting for Recoder; purchases carry
 * the order line as eventId, so a client retrying POST /orders never counts a purchase twice.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  RecoderClient,
  RecoderNoActiveModelError,
  RecoderNotFoundError,
  RecoderNotInModelError,
  type Item,
  type RecommendationsResult,
} from '@recoder/client';

export interface AppOptions {
  /** The client to use (the app closes it when it closes). */
  recoder: RecoderClient;
  /** Fastify's logger (default off). */
  logger?: boolean;
}

interface OrderBody {
  orderId: string;
  lines: { productId: string; quantity?: number }[];
}

export function buildApp({ recoder, logger = false }: AppOptions): FastifyInstance {
  const app = Fastify({ logger });

  const shopper = (req: FastifyRequest, reply: FastifyReply): string | undefined => {
    const id = req.headers['x-user-id'];
    if (typeof id === 'string' && id.length > 0 && id.length <= 256) return id;
    void reply.code(401).send({ error: 'send the shopper id in the x-user-id header' });
    return undefined;
  };

  app.get('/', async (_req, reply) => {
    const popular = await recoder.popularItems({
      limit: 10,
      kindWeights: [
        { kind: 'PURCHASE', weight: 5 },
        { kind: 'VIEW', weight: 1 },
      ],
    });
    return reply
      .type('text/html')
      .send(page('Popular', list(popular.map((p) => ({ item: p.item, note: `${p.interactionCount} interactions` })))));
  });

  app.get<{ Params: { id: string } }>('/products/:id', async (req, reply) => {
    const userId = shopper(req, reply);
    if (!userId) return reply;
    let similar: { item: Item; score: number }[] = [];
    try {
      similar = await recoder.similarItems({ itemId: req.params.id, limit: 5 });
    } catch (error) {
      if (error instanceof RecoderNotFoundError)
        return reply
          .code(404)
          .type('text/html')
          .send(page('Not found', `<p>No product ${escape(req.params.id)}.</p>`));
      // A product newer than the model, or no model yet: the page still renders, without suggestions.
      if (!(error instanceof RecoderNotInModelError || error instanceof RecoderNoActiveModelError)) throw error;
    }
    recoder.track({ userId, itemId: req.params.id, kind: 'VIEW' });
    const body = `<h2>Similar products</h2>${list(similar.map((s) => ({ item: s.item, note: s.score.toFixed(3) })))}`;
    return reply.type('text/html').send(page(`Product ${req.params.id}`, body));
  });

  app.post<{ Body: OrderBody }>(
    '/orders',
    {
      schema: {
        body: {
          type: 'object',
          required: ['orderId', 'lines'],
          properties: {
            orderId: { type: 'string', minLength: 1, maxLength: 128 },
            lines: {
              type: 'array',
              minItems: 1,
              maxItems: 100,
              items: {
                type: 'object',
                required: ['productId'],
                properties: { productId: { type: 'string', minLength: 1 }, quantity: { type: 'integer', minimum: 1 } },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const userId = shopper(req, reply);
      if (!userId) return reply;
      req.body.lines.forEach((line, i) => {
        recoder.track({
          userId,
          itemId: line.productId,
          kind: 'PURCHASE',
          value: line.quantity ?? 1,
          eventId: `order-${req.body.orderId}-line-${i}`,
        });
      });
      return reply.code(201).send({ orderId: req.body.orderId, lines: req.body.lines.length });
    },
  );

  app.get<{ Params: { id: string } }>('/users/:id/recommendations', async (req, reply) => {
    const recs: RecommendationsResult = await recoder.recommendations({ userId: req.params.id, limit: 10 });
    if (req.headers.accept?.includes('application/json')) return reply.send(recs);
    const why =
      recs.source === 'MODEL' ? `model version ${recs.modelVersionId}` : `popular items (${escape(recs.reason ?? '')})`;
    const body = `<p class="source" data-source="${recs.source}">Recommended from ${why}</p>${list(recs.items.map((r) => ({ item: r.item, note: r.score.toFixed(3) })))}`;
    return reply.type('text/html').send(page(`For ${req.params.id}`, body));
  });

  app.get('/healthz', async () => ({ ok: true, events: recoder.stats() }));

  // Shutdown: send the events still buffered before the process exits.
  app.addHook('onClose', async () => {
    await recoder.close();
  });
  return app;
}

function list(rows: { item: Item; note: string }[]): string {
  if (rows.length === 0) return '<p>Nothing yet.</p>';
  return `<ol>${rows.map((r) => `<li data-item="${escape(r.item.id)}"><a href="/products/${encodeURIComponent(r.item.id)}">${escape(r.item.title ?? r.item.id)}</a> <small>${escape(r.note)}</small></li>`).join('')}</ol>`;
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
