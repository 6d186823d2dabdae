import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PROJECT_ROOT, type Env } from '../config/env.js';

/** Where the page is served; its assets live under `${GRAPHIQL_PATH}/assets/`. */
export const GRAPHIQL_PATH = '/graphiql';

/**
 * Example operations GraphiQL opens with, one tab each, on the ids of the demo data (MovieLens
 * latest-small, `npm run demo`): user "1", item "1" = Toy Story (1995). graphiql.spec.ts validates
 * them against the schema.
 */
export const EXAMPLE_TABS: readonly { query: string }[] = [
  {
    query: `# Recoder's GraphiQL, served by this server.
# Run: Ctrl-Enter or ▶. Each tab holds an example
# on the demo data (npm run demo: MovieLens
# latest-small, with its own ids).
#
# Recommendations for user "1" from the history
# as it is now. With no active model version, or
# for a user id never seen (try "newbie-1"):
# popular items (source POPULARITY, reason).
query Recommendations {
  recommendations(userId: "1", limit: 5) {
    source
    modelVersionId
    reason
    items {
      score
      source
      item { id title categories }
    }
  }
}
`,
  },
  {
    query: `# Items closest to item "1", Toy Story (1995),
# in the active model version (NO_ACTIVE_MODEL
# until one is active: the demo trains one at
# its first start).
query SimilarItems {
  similarItems(itemId: "1", limit: 5) {
    score
    item { id title categories }
  }
}
`,
  },
  {
    query: `# The most interacted-with visible items
# (no model needed).
query PopularItems {
  popularItems(limit: 10) {
    score
    interactionCount
    item { id title categories }
  }
}
`,
  },
  {
    query: `# A user's latest interactions and anomaly score.
query UserHistory {
  user(id: "1") {
    id
    anomalyScore { error percentile }
    interactions(first: 5) {
      nodes {
        kind
        value
        occurredAt
        item { id title }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
`,
  },
  {
    query: `# What this process serves, the stored model
# versions and the latest training runs.
query Models {
  servingStatus {
    modelVersion { id kind }
    warm
    search
    populationSize
    backend
  }
  modelVersions(first: 5) { id kind name active metrics }
  trainingRuns(first: 5) {
    id
    kind
    status
    epoch
    epochs
    decision
  }
}
`,
  },
];

/** The Authorization header each tab starts with when RECODER_AUTH=required (replace the placeholder). */
export const AUTH_HEADERS_PLACEHOLDER = `{
  "Authorization": "Bearer <API key>"
}`;

/** Put before the first tab's query when RECODER_AUTH=required. */
const AUTH_NOTE = `# API keys are required here: create one with
#   npm run apikey -- create --role reader
# and put it in Headers below (in every tab).
#
`;

/**
 * The page's policy: its own scripts only (no inline script, no eval, nothing from elsewhere);
 * inline styles are allowed because GraphiQL's dialogs inject <style> elements; fonts are data: URLs
 * inside graphiql.min.css.
 */
export const GRAPHIQL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** What the page's script (web/graphiql/app.js) reads from the page. */
export interface GraphiqlPageConfig {
  /** The GraphQL endpoint, relative to the page. */
  endpoint: string;
  /** RECODER_AUTH=required: tabs start with the Authorization header, the headers editor open. */
  authRequired: boolean;
  tabs: { query: string; headers: string | null }[];
  /** localStorage prefix of GraphiQL's state (tabs, history): separate for open and key-protected servers. */
  storagePrefix: string;
}

interface Asset {
  file: string;
  type: string;
  /** Cache-busting query string of the asset's URL. */
  version: string;
}

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));
const packageVersion = (name: string) =>
  (JSON.parse(readFileSync(path.join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;
const contentHash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);

/** The page's files: prebuilt UMD bundles and CSS from the npm packages, and the page's own script. */
function assets(): Map<string, Asset> {
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  const graphiql = packageDir('graphiql');
  const own = (name: string, type: string): [string, Asset] => {
    const file = path.join(PROJECT_ROOT, 'web', 'graphiql', name);
    return [name, { file, type, version: contentHash(file) }];
  };
  return new Map<string, Asset>([
    [
      'react.production.min.js',
      {
        file: path.join(packageDir('react'), 'umd', 'react.production.min.js'),
        type: js,
        version: packageVersion('react'),
      },
    ],
    [
      'react-dom.production.min.js',
      {
        file: path.join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'),
        type: js,
        version: packageVersion('react-dom'),
      },
    ],
    [
      'graphiql.min.js',
      { file: path.join(graphiql, 'graphiql.min.js'), type: js, version: packageVersion('graphiql') },
    ],
    [
      'graphiql.min.js.map',
      {
        file: path.join(graphiql, 'graphiql.min.js.map'),
        type: 'application/json',
        version: packageVersion('graphiql'),
      },
    ],
    [
      'graphiql.min.css',
      { file: path.join(graphiql, 'graphiql.min.css'), type: css, version: packageVersion('graphiql') },
    ],
    own('app.js', js),
    own('app.css', css),
  ]);
}

export function graphiqlPageConfig(env: Pick<Env, 'auth'>): GraphiqlPageConfig {
  const authRequired = env.auth === 'required';
  return {
    endpoint: 'graphql',
    authRequired,
    tabs: EXAMPLE_TABS.map((t, k) => ({
      query: authRequired && k === 0 ? `${AUTH_NOTE}${t.query}` : t.query,
      headers: authRequired ? AUTH_HEADERS_PLACEHOLDER : null,
    })),
    storagePrefix: `recoder-graphiql-v1-${authRequired ? 'key' : 'open'}:`,
  };
}

/** JSON for a `<script type="application/json">` block: `<` escaped so the text cannot end the element. */
export function jsonForScriptElement(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function graphiqlPage(config: GraphiqlPageConfig, urls: (name: string) => string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Recoder · GraphiQL</title>
  <meta name="robots" content="noindex">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${urls('graphiql.min.css')}">
  <link rel="stylesheet" href="${urls('app.css')}">
</head>
<body>
  <div id="graphiql" class="recoder-loading">Loading GraphiQL…</div>
  <noscript>GraphiQL needs JavaScript.</noscript>
  <script id="recoder-graphiql-config" type="application/json">${jsonForScriptElement(config)}</script>
  <script src="${urls('react.production.min.js')}"></script>
  <script src="${urls('react-dom.production.min.js')}"></script>
  <script src="${urls('graphiql.min.js')}"></script>
  <script src="${urls('app.js')}"></script>
</body>
</html>
`;
}

/**
 * Serves GraphiQL at /graphiql from the npm packages `graphiql` (its prebuilt UMD bundle and CSS),
 * `react` and `react-dom` (UMD builds) and `web/graphiql/` (the page's own script), so the page works
 * with no network beyond this server. Only the listed files are served. Nothing is registered when
 * GRAPHIQL is off (every path answers 404).
 */
export function registerGraphiql(fastify: FastifyInstance, env: Env): void {
  if (!env.graphiql) return;
  const files = assets();
  // Relative to the page (/graphiql), so the page also works under a reverse proxy's path prefix.
  const url = (name: string) => `graphiql/assets/${name}?v=${files.get(name)!.version}`;
  const html = graphiqlPage(graphiqlPageConfig(env), url);
  const common = (reply: FastifyReply) =>
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
  fastify.get(GRAPHIQL_PATH, async (_request, reply) => {
    common(reply)
      .header('content-security-policy', GRAPHIQL_CSP)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8');
    return html;
  });
  fastify.get<{ Params: { name: string } }>(`${GRAPHIQL_PATH}/assets/:name`, async (request, reply) => {
    const asset = files.get(request.params.name);
    if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found');
    // Versioned URLs (?v=): a new package version or script changes the URL.
    common(reply).header('cache-control', 'public, max-age=31536000, immutable').type(asset.type);
    return reply.send(createReadStream(asset.file));
  });
}
