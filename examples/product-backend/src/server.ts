/**
 * Runs the example shop: RECODER_URL (default http://127.0.0.1:4000/graphql), RECODER_API_KEY (a
 * writer key when the server requires keys), PORT (default 3000). Ctrl-C closes the app, which
 * flushes the events still buffered.
 */
import { RecoderClient } from '@recoder/client';
import { buildApp } from './app.js';

const recoder = new RecoderClient({
  url: process.env.RECODER_URL ?? 'http://127.0.0.1:4000/graphql',
  apiKey: process.env.RECODER_API_KEY,
  timeoutMs: 2000,
  // Pages render on time while Recoder is slow or away: cached popular items after 300 ms.
  fallback: { timeoutMs: 300 },
});
const app = buildApp({ recoder, logger: true });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
