import { readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { buildSchema, parse, validate } from 'graphql';
import { loadEnv, PROJECT_ROOT } from '../config/env.js';
import {
  AUTH_HEADERS_PLACEHOLDER,
  EXAMPLE_TABS,
  GRAPHIQL_CSP,
  graphiqlPageConfig,
  jsonForScriptElement,
  registerGraphiql,
} from './graphiql.js';

const env = (vars: Record<string, string>) => loadEnv({ LOG_LEVEL: 'error', ...vars });

async function server(vars: Record<string, string>): Promise<FastifyInstance> {
  const fastify = Fastify();
  registerGraphiql(fastify, env(vars));
  await fastify.ready();
  return fastify;
}

/** The page's JSON block, as the browser script reads it. */
function pageConfig(html: string): ReturnType<typeof graphiqlPageConfig> {
  const json = /<script id="recoder-graphiql-config" type="application\/json">(.*?)<\/script>/s.exec(html)![1];
  return JSON.parse(json);
}

describe('GraphiQL page', () => {
  it('opens with example tabs that are valid operations of the committed schema', () => {
    const schema = buildSchema(readFileSync(path.join(PROJECT_ROOT, 'schema.gql'), 'utf8'));
    expect(EXAMPLE_TABS.length).toBeGreaterThanOrEqual(3);
    for (const { query } of EXAMPLE_TABS) expect(validate(schema, parse(query)).map((e) => e.message)).toEqual([]);
    const all = EXAMPLE_TABS.map((t) => t.query).join('\n');
    expect(all).toContain('recommendations(userId: "1", limit: 5)');
    expect(all).toContain('similarItems(itemId: "1", limit: 5)');
    expect(all).toContain('popularItems(limit: 10)');
  });

  it("serves the page, its own script and the packages' bundles from this server only, under a CSP without inline scripts", async () => {
    const app = await server({ GRAPHIQL: 'true', RECODER_AUTH: 'off' });
    try {
      const page = await app.inject({ method: 'GET', url: '/graphiql' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toBe(GRAPHIQL_CSP);
      expect(GRAPHIQL_CSP).toContain("script-src 'self'");
      expect(GRAPHIQL_CSP).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline|https?:/);
      expect(page.body).not.toMatch(/https?:\/\//); // no CDN, no absolute URL at all
      const scripts = [...page.body.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
      // Every executable script is a file of ours; the config block is JSON (not executed).
      for (const attrs of scripts)
        expect(attrs).toMatch(/ src="graphiql\/assets\/[\w.-]+\?v=[\w.]+"| type="application\/json"/);
      const urls = [...page.body.matchAll(/(?:src|href)="(graphiql\/assets\/[^"]+)"/g)].map((m) => m[1]);
      expect(urls.map((u) => u.replace(/\?.*/, ''))).toEqual([
        'graphiql/assets/graphiql.min.css',
        'graphiql/assets/app.css',
        'graphiql/assets/react.production.min.js',
        'graphiql/assets/react-dom.production.min.js',
        'graphiql/assets/graphiql.min.js',
        'graphiql/assets/app.js',
      ]);
      for (const url of urls) {
        const asset = await app.inject({ method: 'GET', url: `/${url}` });
        expect(asset.statusCode).toBe(200);
        expect(asset.headers['content-type']).toMatch(url.includes('.css') ? /^text\/css/ : /^text\/javascript/);
        expect(asset.rawPayload.length).toBeGreaterThan(100);
      }
      const bundle = await app.inject({ method: 'GET', url: '/graphiql/assets/graphiql.min.js' });
      expect(bundle.body).toContain('GraphiQL');
      expect(bundle.headers['cache-control']).toContain('immutable');
      // Only the listed files: nothing else of the packages or the disk.
      for (const bad of [
        'package.json',
        '..%2Fpackage.json',
        '%2E%2E%2F%2E%2E%2Fpackage.json',
        'index.js',
        'constructor',
      ]) {
        expect((await app.inject({ method: 'GET', url: `/graphiql/assets/${bad}` })).statusCode).toBe(404);
      }
      const config = pageConfig(page.body);
      expect(config).toMatchObject({ endpoint: 'graphql', authRequired: false });
      expect(config.tabs.map((t) => t.query)).toEqual(EXAMPLE_TABS.map((t) => t.query));
      for (const tab of config.tabs) expect(tab.headers).toBeNull();
    } finally {
      await app.close();
    }
  });

  it('starts every tab with the Authorization header when API keys are required', async () => {
    const app = await server({ GRAPHIQL: 'true', RECODER_AUTH: 'required' });
    try {
      const config = pageConfig((await app.inject({ method: 'GET', url: '/graphiql' })).body);
      expect(config.authRequired).toBe(true);
      for (const tab of config.tabs) expect(JSON.parse(tab.headers!)).toEqual({ Authorization: 'Bearer <API key>' });
      expect(config.tabs[0].headers).toBe(AUTH_HEADERS_PLACEHOLDER);
      expect(config.tabs[0].query).toMatch(
        /^# API keys are required here: create one with\n# {3}npm run apikey -- create --role reader\n/,
      );
      expect(config.tabs[0].query.endsWith(EXAMPLE_TABS[0].query)).toBe(true);
      // Open and key-protected servers keep their GraphiQL state apart in the browser.
      expect(config.storagePrefix).not.toBe(graphiqlPageConfig({ auth: 'off' }).storagePrefix);
    } finally {
      await app.close();
    }
  });

  it('serves nothing when GRAPHIQL is off (the production default)', async () => {
    expect(env({ NODE_ENV: 'production' }).graphiql).toBe(false);
    const app = await server({ NODE_ENV: 'production' });
    try {
      for (const url of ['/graphiql', '/graphiql/assets/graphiql.min.js', '/graphiql/assets/app.js']) {
        expect((await app.inject({ method: 'GET', url })).statusCode).toBe(404);
      }
    } finally {
      await app.close();
    }
  });

  it('escapes the JSON block so no value can close the script element', () => {
    const json = jsonForScriptElement({ q: '</script><script>alert(1)</script>', s: '\u2028' });
    expect(json).not.toMatch(/<|\u2028/);
    expect(JSON.parse(json)).toEqual({ q: '</script><script>alert(1)</script>', s: '\u2028' });
  });
});
