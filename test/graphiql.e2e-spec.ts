import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Browser, Page } from 'playwright-core';
import { createApiKey } from '../src/auth/api-keys.queries.js';
import { PROJECT_ROOT } from '../src/config/env.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { EXAMPLE_TABS } from '../src/graphql/graphiql.js';
import { importInteractions } from '../src/interactions/import/index.js';
import {
  launchBrowser,
  openOfflinePage,
  saveScreenshot,
  type CodeMirrorElement,
  type OfflinePage,
  type PageGlobals,
} from './browser.js';
import { bootApp, gql, testDatabaseUrl, truncateAll } from './helpers.js';
import { trainTestVersion } from './training-data.js';

/** The API on a loopback port (the browser needs a real socket), with GraphiQL on. */
async function serve(overrides: Parameters<typeof bootApp>[0]): Promise<{ app: NestFastifyApplication; base: string }> {
  const app = await bootApp({ graphiql: true, ...overrides });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}` };
}

/** The text of a GraphiQL editor (CodeMirror 5). */
const editorText = (page: Page, selector: string) =>
  page.$eval(selector, (el) => (el as unknown as CodeMirrorElement).CodeMirror!.getValue());
const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const RESPONSE = '.graphiql-response .CodeMirror';
const HEADERS_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';

/** Waits until the response pane holds an answer mentioning `field`, and returns it parsed. */
async function response(
  page: Page,
  field: string,
): Promise<{ data?: Record<string, any> | null; errors?: { message: string; extensions: { code: string } }[] }> {
  await page.waitForFunction(
    ([selector, text]) =>
      (
        (
          (globalThis as unknown as PageGlobals).document.querySelector(selector) as CodeMirrorElement | null
        )?.CodeMirror?.getValue() ?? ''
      ).includes(text),
    [RESPONSE, field] as const,
    { timeout: 30_000 },
  );
  return JSON.parse(await editorText(page, RESPONSE));
}

/** Switches to a tab, and waits until GraphiQL has parsed its operation (debounced): ▶ then runs it. */
async function openTab(page: Page, title: string): Promise<void> {
  await page.locator('.graphiql-tab', { hasText: title }).locator('.graphiql-tab-button').click();
  await page.waitForFunction(
    ([selector, name]) =>
      ((globalThis as unknown as PageGlobals).document.querySelector(selector) as CodeMirrorElement | null)?.CodeMirror
        ?.operationName === name,
    [QUERY_EDITOR, title] as const,
  );
}

/** Nothing left the machine (nothing was even tried), and the page logged no error. */
function expectOfflineAndClean(p: OfflinePage, base: string, expected: RegExp[] = []): void {
  expect(p.blocked).toEqual([]);
  expect(p.problems.filter((x) => !expected.some((e) => e.test(x)))).toEqual([]);
  const paths = new Set(p.requests.map((u) => (u.origin === base ? u.pathname : u.href)));
  expect([...paths].filter((x) => !x.startsWith('/graphiql') && x !== '/graphql')).toEqual([]);
  expect(paths).toContain('/graphiql/assets/graphiql.min.js');
  expect(paths).toContain('/graphiql/assets/react-dom.production.min.js');
}

/**
 * GraphiQL in headless Chromium (playwright-core, the machine's Chromium: see test/browser.ts) with
 * every non-loopback request aborted: the page, its scripts and styles, the schema and the
 * answers all come from this server. Runs the example tabs on the demo data (MovieLens latest-small).
 */
describe('GraphiQL in a browser, offline', () => {
  // No Chromium: every test fails with the launch error, which says how to install it.
  let browser: Promise<Browser>;

  beforeAll(async () => {
    browser = launchBrowser();
    await browser;
    await truncateAll();
    await importInteractions(testDatabaseUrl(), {
      path: path.join(PROJECT_ROOT, 'data', 'ml-latest-small'),
      format: 'movielens-latest',
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.then(
      (b) => b.close(),
      () => undefined,
    );
    await truncateAll();
  });

  describe('open API (RECODER_AUTH=off, as in the demo)', () => {
    let app: NestFastifyApplication;
    let base: string;
    let p: OfflinePage;

    beforeAll(async () => {
      ({ app, base } = await serve({ auth: 'off' }));
      p = await openOfflinePage(await browser);
      await p.page.goto(`${base}/graphiql`);
      await p.page.waitForSelector(QUERY_EDITOR);
    }, 60_000);
    afterAll(async () => {
      await p?.context.close();
      await app?.close();
    });

    it('opens with the example tabs, the recommendations query first', async () => {
      const titles = await p.page.locator('.graphiql-tab .graphiql-tab-button').allInnerTexts();
      expect(titles.map((t) => t.trim())).toEqual([
        'Recommendations',
        'SimilarItems',
        'PopularItems',
        'UserHistory',
        'Models',
      ]);
      expect(await editorText(p.page, QUERY_EDITOR)).toBe(EXAMPLE_TABS[0].query);
    });

    it("runs the query with Ctrl-Enter and shows the server's answer", async () => {
      await p.page.click(QUERY_EDITOR);
      await p.page.keyboard.press('Control+Enter');
      const shown = await response(p.page, '"recommendations"');
      const direct = await gql(app, EXAMPLE_TABS[0].query);
      expect(shown).toEqual({ data: direct.data });
      // No model version yet: user "1" gets the popular movies they have not rated.
      expect(shown.data!.recommendations).toMatchObject({ source: 'POPULARITY', reason: 'no model version is active' });
      expect(shown.data!.recommendations.items).toHaveLength(5);
      expect(shown.data!.recommendations.items[0].item.title).toBe('Shawshank Redemption, The (1994)');
      const file = await saveScreenshot(p.page, 'graphiql.png');
      expect(file).toMatch(/test-results\/graphiql\.png$/);
    });

    it('runs another tab with the ▶ button; the schema loaded for the documentation explorer', async () => {
      await openTab(p.page, 'PopularItems');
      await p.page.click('.graphiql-execute-button');
      const shown = await response(p.page, '"popularItems"');
      expect(shown).toEqual({ data: (await gql(app, EXAMPLE_TABS[2].query)).data });
      expect(shown.data!.popularItems).toHaveLength(10);
      expect(shown.data!.popularItems[0].item.title).toBe('Forrest Gump (1994)');
      // Introspection (depth 15) passed the depth limit: the docs list the root types.
      await p.page.click('[aria-label="Show Documentation Explorer"]');
      await p.page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor();
      expectOfflineAndClean(p, base);
    });

    it('runs the similar-items example once a model version is active', async () => {
      const id = await trainTestVersion({
        epochs: 2,
        hyperparameters: { latentDim: 8, hiddenUnits: [16], batchSize: 256, learningRate: 5e-3 },
      });
      expect(
        (await gql(app, `mutation($id: Int!) { activateModelVersion(id: $id) { id } }`, { id })).errors,
      ).toBeUndefined();
      await openTab(p.page, 'SimilarItems');
      await p.page.click('.graphiql-execute-button');
      const shown = await response(p.page, '"similarItems"');
      expect(shown.errors).toBeUndefined();
      expect(shown.data!.similarItems).toHaveLength(5);
      expect(shown).toEqual({ data: (await gql(app, EXAMPLE_TABS[1].query)).data });
      await openTab(p.page, 'Recommendations');
      await p.page.click('.graphiql-execute-button');
      expect((await response(p.page, '"MODEL"')).data!.recommendations).toMatchObject({
        source: 'MODEL',
        modelVersionId: id,
        reason: null,
      });
      expectOfflineAndClean(p, base);
    }, 120_000);
  });

  describe('API keys required (RECODER_AUTH=required)', () => {
    let app: NestFastifyApplication;
    let base: string;
    let p: OfflinePage;
    let key: string;

    beforeAll(async () => {
      ({ app, base } = await serve({ auth: 'required' }));
      const prisma = createPrismaClient(testDatabaseUrl(), 1);
      try {
        ({ key } = await createApiKey(prisma, { name: 'graphiql browser test', role: 'READER' }));
      } finally {
        await prisma.$disconnect();
      }
      p = await openOfflinePage(await browser);
      await p.page.goto(`${base}/graphiql`);
      await p.page.waitForSelector(HEADERS_EDITOR);
    }, 60_000);
    afterAll(async () => {
      await p?.context.close();
      await app?.close();
    });

    it('shows the headers editor with the Authorization header, and says where keys come from', async () => {
      expect(await p.page.getAttribute('.graphiql-editor-tools button[data-name="headers"]', 'class')).toContain(
        'active',
      );
      expect(JSON.parse(await editorText(p.page, HEADERS_EDITOR))).toEqual({ Authorization: 'Bearer <API key>' });
      expect(await editorText(p.page, QUERY_EDITOR)).toMatch(
        /^# API keys are required here: create one with\n# {3}npm run apikey -- create --role reader\n/,
      );
    });

    it('sends the header: UNAUTHENTICATED with the placeholder, data with a real key', async () => {
      await p.page.click('.graphiql-execute-button');
      const refused = await response(p.page, '"errors"');
      expect(refused.errors![0]).toMatchObject({
        message: 'Malformed Authorization header: expected "Bearer <key>"',
        extensions: { code: 'UNAUTHENTICATED' },
      });
      const headers = JSON.stringify({ Authorization: `Bearer ${key}` }, null, 2);
      await p.page.$eval(
        HEADERS_EDITOR,
        (el, value) => (el as unknown as CodeMirrorElement).CodeMirror!.setValue(value),
        headers,
      );
      await p.page.click('.graphiql-execute-button');
      const shown = await response(p.page, '"items"');
      expect(shown.errors).toBeUndefined();
      const direct = await app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { authorization: `Bearer ${key}` },
        payload: { query: EXAMPLE_TABS[0].query },
      });
      expect(shown).toEqual({ data: JSON.parse(direct.body).data });
      expect(shown.data!.recommendations.items).toHaveLength(5);
      await saveScreenshot(p.page, 'graphiql-api-key.png');
      // The placeholder key is answered HTTP 401 (the schema query at load, the first run), which
      // the browser reports on the console; nothing else may be.
      expect(p.problems.filter((x) => /status of 401 \(Unauthorized\)/.test(x)).length).toBeGreaterThan(0);
      expectOfflineAndClean(p, base, [
        /^console: Failed to load resource: the server responded with a status of 401 \(Unauthorized\)$/,
      ]);
    });
  });
});
