import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PROJECT_ROOT, type Env } from '../config/env.js';

/** Where the dashboard is served: the page at `${DASHBOARD_PATH}/`, its files under `${DASHBOARD_PATH}/assets/`. */
export const DASHBOARD_PATH = '/dashboard';

/** Where `npm run build` (vite, web/dashboard/vite.config.ts) writes the dashboard. */
export const DASHBOARD_DIST = path.join(PROJECT_ROOT, 'dist', 'dashboard');

/**
 * The page's policy: only its own scripts, styles and connections (no inline script or style
 * element, no eval, nothing from elsewhere); images may be data: URLs (item thumbnails arrive as
 * base64 PNG).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/**
 * Serves the dashboard (built by `npm run build` into dist/dashboard) at /dashboard/, when
 * RECODER_DASHBOARD is on (the default). Only the built files are served, hashed ones as immutable.
 * Unbuilt (only `tsc` ran), /dashboard answers 503 saying how to build it.
 */
export function registerDashboard(
  fastify: FastifyInstance,
  env: Env,
  log: (message: string) => void = () => undefined,
): void {
  if (!env.dashboard) return;
  const indexFile = path.join(DASHBOARD_DIST, 'index.html');
  const built = existsSync(indexFile);
  if (!built) log(`the dashboard is not built (${indexFile} is missing): run npm run build`);
  // The page learns whether keys are required from the HTML, so that without a stored key it opens
  // on the key form instead of asking /graphql first (which answers 401 before reading anything).
  const html = built
    ? readFileSync(indexFile, 'utf8').replace('<head>', `<head>\n<meta name="recoder-auth" content="${env.auth}">`)
    : '';
  const assetsDir = path.join(DASHBOARD_DIST, 'assets');
  const assets = new Map<string, { body: Buffer; type: string }>();
  if (built && existsSync(assetsDir)) {
    for (const name of readdirSync(assetsDir)) {
      const type = TYPES[path.extname(name)];
      if (type) assets.set(name, { body: readFileSync(path.join(assetsDir, name)), type });
    }
  }
  const common = (reply: FastifyReply) =>
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
  // The page's URLs are relative (assets/…), so it lives at /dashboard/ (also behind a path prefix).
  fastify.get(DASHBOARD_PATH, async (_request, reply) => common(reply).redirect('dashboard/', 308));
  fastify.get(`${DASHBOARD_PATH}/`, async (_request, reply) => {
    if (!built)
      return common(reply)
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run `npm run build`.\n');
    common(reply)
      .header('content-security-policy', DASHBOARD_CSP)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8');
    return html;
  });
  fastify.get<{ Params: { name: string } }>(`${DASHBOARD_PATH}/assets/:name`, async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return common(reply).code(404).type('text/plain; charset=utf-8').send('Not Found');
    // File names carry a content hash (vite): a new build changes the URL.
    common(reply).header('cache-control', 'public, max-age=31536000, immutable').type(asset.type);
    return reply.send(asset.body);
  });
}
