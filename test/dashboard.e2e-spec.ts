import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { createApiKey } from '../src/auth/api-keys.queries.js';
import { PROJECT_ROOT } from '../src/config/env.js';
import { Random } from '../src/core/data/random.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { importInteractions } from '../src/interactions/import/index.js';
import { launchBrowser, openOfflinePage, saveScreenshot, type OfflinePage, type PageGlobals } from './browser.js';
import { bootApp, sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { trainTestVersion, waitFor } from './training-data.js';

const SIZE = 16;
/** A 16×16 grayscale PNG: horizontal bars (shape 0), vertical bars (1) or a square (2), with noise. */
function shapePng(shape: number, rng: Random): string {
  const png = new PNG({ width: SIZE, height: SIZE });
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const on = shape === 0 ? y % 4 < 2 : shape === 1 ? x % 4 < 2 : Math.abs(x - 7.5) < 4 && Math.abs(y - 7.5) < 4;
      const v = Math.max(0, Math.min(255, (on ? 220 : 30) + Math.round((rng.uniform() - 0.5) * 60)));
      const o = (y * SIZE + x) * 4;
      png.data[o] = png.data[o + 1] = png.data[o + 2] = v;
      png.data[o + 3] = 255;
    }
  return PNG.sync.write(png).toString('base64');
}

const text = (page: Page, testid: string) => page.getByTestId(testid).innerText();

/** Nothing left the machine (nothing was even tried), and the page logged no error. */
function expectOfflineAndClean(p: OfflinePage, base: string): void {
  expect(p.blocked).toEqual([]);
  // A request the browser abandoned because the test reloaded the page is no failure.
  expect(p.problems.filter((x) => !/^request failed: .*\(net::ERR_ABORTED\)$/.test(x))).toEqual([]);
  const paths = new Set(p.requests.map((u) => (u.origin === base ? u.pathname : u.href)));
  expect([...paths].filter((x) => !x.startsWith('/dashboard') && x !== '/graphql')).toEqual([]);
}

/**
 * The dashboard in headless Chromium (playwright-core, the machine's Chromium: test/browser.ts)
 * against the API on the demo data (MovieLens latest-small) with API keys required: each page
 * loads, shows the data the API holds, and is saved as a 1280×800 screenshot in test-results/.
 */
describe('dashboard in a browser', () => {
  let browser: Promise<Browser>;
  let app: NestFastifyApplication;
  let base: string;
  let readerKey: string;
  let adminKey: string;
  let first: number;
  let second: number;
  /** The image autoencoder's training run (finished, activated). */
  let convRun: number;
  /** An item nobody rated: no version has a vector for it. */
  let unrated: string;
  /** A GraphQL request with the admin key. */
  let admin: (
    query: string,
    variables?: Record<string, unknown>,
  ) => Promise<{ data?: any; errors?: { message: string; extensions: { code: string } }[] }>;

  beforeAll(async () => {
    browser = launchBrowser();
    await browser;
    await truncateAll();
    await importInteractions(testDatabaseUrl(), {
      path: path.join(PROJECT_ROOT, 'data', 'ml-latest-small'),
      format: 'movielens-latest',
    });
    [{ unrated }] = await sql<{ unrated: string }>(
      'SELECT external_id AS unrated FROM items i WHERE NOT EXISTS (SELECT 1 FROM interactions x WHERE x.item_id = i.id) ORDER BY i.id LIMIT 1',
    );
    // Exact search (no HNSW graphs to build for 9,742 items): activations load in seconds.
    // The training thread at normal priority: on a busy machine a niced one barely runs.
    app = await bootApp({
      auth: 'required',
      trainingWorker: 'thread',
      trainingThreadNice: 0,
      exactSearchBelow: 20_000,
      images: { size: SIZE, channels: 1, maxBytes: 1 << 20 },
    });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const prisma = createPrismaClient(testDatabaseUrl(), 1);
    try {
      ({ key: readerKey } = await createApiKey(prisma, { name: 'dashboard reader', role: 'READER' }));
      ({ key: adminKey } = await createApiKey(prisma, { name: 'dashboard admin', role: 'ADMIN' }));
    } finally {
      await prisma.$disconnect();
    }
    admin = (query, variables) =>
      app
        .inject({
          method: 'POST',
          url: '/graphql',
          headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
          payload: { query, variables },
        })
        .then((r) => JSON.parse(r.body));
    // Pictures of 36 popular films, and the image autoencoder trained on them in the training
    // thread while two small collaborative versions train here (the second is then activated).
    const rng = new Random(5);
    const films = (
      (await admin('{ popularItems(limit: 36) { item { id } } }')).data.popularItems as { item: { id: string } }[]
    ).map((p) => p.item.id);
    for (const [k, id] of films.entries())
      expect(
        (
          await admin('mutation($id: ID!, $image: String!) { setItemImage(itemId: $id, image: $image) { size } }', {
            id,
            image: shapePng(k % 3, rng),
          })
        ).errors,
      ).toBeUndefined();
    const conv = await admin('mutation($input: TrainModelInput!) { trainModel(input: $input) { id } }', {
      input: {
        kind: 'CONV_AE',
        epochs: 10,
        activate: 'ALWAYS',
        hyperparameters: { latentDim: 8, filters: [8, 16], batchSize: 16, learningRate: 5e-3 },
      },
    });
    expect(conv.errors).toBeUndefined();
    convRun = conv.data.trainModel.id;
    const small = {
      epochs: 1,
      hyperparameters: { latentDim: 16, hiddenUnits: [32], batchSize: 64, learningRate: 5e-3 },
    };
    first = await trainTestVersion({ ...small, seed: 1 });
    second = await trainTestVersion({ ...small, seed: 2 });
    expect(
      (await admin('mutation($id: Int!) { activateModelVersion(id: $id) { id } }', { id: second })).errors,
    ).toBeUndefined();
    const done = await waitFor(
      async () =>
        (await admin('query($id: Int!) { trainingRun(id: $id) { status error activated } }', { id: convRun })).data
          .trainingRun,
      (r) => r.status !== 'QUEUED' && r.status !== 'RUNNING',
      120_000,
    );
    expect(done).toMatchObject({ status: 'SUCCEEDED', activated: true });
  }, 240_000);

  afterAll(async () => {
    await browser?.then(
      (b) => b.close(),
      () => undefined,
    );
    await app?.close();
    await truncateAll();
  });

  /** A fresh tab (its own session storage) with the key entered on the key form. */
  async function signIn(key: string): Promise<OfflinePage> {
    const p = await openOfflinePage(await browser);
    await p.page.goto(`${base}/dashboard`);
    await p.page.locator('input[name="apiKey"]').fill(key);
    await p.page.getByRole('button', { name: 'Open dashboard' }).click();
    await p.page.getByTestId('viewer-role').waitFor();
    return p;
  }

  describe('with a reader key', () => {
    let p: OfflinePage;
    beforeAll(async () => {
      p = await signIn(readerKey);
    }, 60_000);
    afterAll(async () => p?.context.close());

    it('asks for the key once, then shows the overview: counts, ingest chart, the active version, serving', async () => {
      expect(await text(p.page, 'viewer-role')).toMatch(/^Key rk_[\w-]+… · reader$/);
      await p.page.getByTestId('stat-interactions').getByText('100,836').waitFor();
      expect(await text(p.page, 'stat-users')).toContain('610');
      expect(await text(p.page, 'stat-items')).toContain('9,742');
      expect(await text(p.page, 'stat-ingest')).toContain('100,836'); // imported just now
      expect(await p.page.locator('[data-testid="ingest-chart"] canvas').count()).toBe(1);
      expect(await p.page.getByTestId('ingest-chart').getAttribute('data-points')).toBe('24');
      expect(await text(p.page, 'serving')).toContain(`#${second}`);
      expect(await text(p.page, 'active-versions')).toMatch(new RegExp(`recommendations\\s+#${second} `));
      // The key stays for the session: a reload does not ask again.
      await p.page.reload();
      await p.page.getByTestId('stat-users').waitFor();
      await saveScreenshot(p.page, 'dashboard-overview.png');
      expectOfflineAndClean(p, base);
    });

    it('shows no admin controls to a reader', async () => {
      await p.page.goto(`${base}/dashboard/#/models`);
      await p.page.getByTestId('versions').waitFor();
      expect(await p.page.getByRole('button', { name: /Activate|Roll back/ }).count()).toBe(0);
      await p.page.goto(`${base}/dashboard/#/training`);
      await p.page.getByTestId('runs').waitFor();
      expect(await p.page.getByTestId('start-run').count()).toBe(0);
    });

    it('Latent space: 9,700 items coloured by category; hover shows a title, a click lists its neighbours; then the users', async () => {
      await p.page.goto(`${base}/dashboard/#/latent`);
      const canvas = p.page.locator('[data-testid="scatter"][data-drawn]');
      await canvas.waitFor({ timeout: 30_000 });
      const drawn = Number(await canvas.getAttribute('data-drawn'));
      expect(drawn).toBeGreaterThan(9_000);
      expect(await text(p.page, 'latent-map')).toContain(
        `Items of version #${second} · ${drawn.toLocaleString('en-US')} points`,
      );
      expect(await text(p.page, 'legend')).toMatch(/Drama[\s\S]*Comedy[\s\S]*other/);
      // Sweep the pointer over the middle of the map, from its centre (where the view centres the
      // points) outwards, until a point's tooltip shows.
      const box = (await canvas.boundingBox())!;
      const spots = Array.from({ length: 200 }, (_, k) => ({
        fx: 0.3 + 0.4 * ((k % 20) / 19),
        fy: 0.3 + 0.4 * (Math.floor(k / 20) / 9),
      }));
      spots.sort((a, b) => Math.hypot(a.fx - 0.5, a.fy - 0.5) - Math.hypot(b.fx - 0.5, b.fy - 0.5));
      let at: { x: number; y: number } | null = null;
      for (const { fx, fy } of spots) {
        const x = box.x + box.width * fx;
        const y = box.y + box.height * fy;
        await p.page.mouse.move(x, y);
        if (await p.page.getByTestId('tooltip').count()) {
          at = { x, y };
          break;
        }
      }
      expect(at).not.toBeNull();
      expect(await text(p.page, 'tooltip')).toMatch(/\S+[\s\S]*id \d+/);
      await p.page.mouse.click(at!.x, at!.y);
      await p.page.locator('ol.neighbours li').nth(9).waitFor();
      expect(await p.page.locator('ol.neighbours li').count()).toBe(10);
      await saveScreenshot(p.page, 'dashboard-latent-items.png');
      await p.page.getByRole('link', { name: 'Users', exact: true }).click();
      await p.page.getByText(`Users of version #${second}`).waitFor({ timeout: 30_000 });
      await p.page.locator('[data-testid="scatter"][data-drawn="609"]').waitFor();
      expect(await text(p.page, 'legend')).toContain('90–100');
      await saveScreenshot(p.page, 'dashboard-latent-users.png');
      expectOfflineAndClean(p, base);
    }, 60_000);

    it("User explorer: a user's history, its reconstruction, recommendations and anomaly score", async () => {
      await p.page.goto(`${base}/dashboard/#/users`);
      await p.page.locator('input[name="userId"]').fill('414');
      await p.page.getByRole('button', { name: 'Explore' }).click();
      await p.page.locator('ul.bars li').first().waitFor();
      expect(await text(p.page, 'user-summary')).toMatch(
        /User 414[\s\S]*Anomaly score\s+\d+\.\d{3}\s+percentile \d+\.\d/i,
      );
      expect(await p.page.getByTestId('history').locator('tr').count()).toBe(100);
      expect(await text(p.page, 'reconstruction')).toContain(`Reconstruction (probability) · version #${second}`);
      expect(await p.page.locator('ul.bars li').count()).toBe(40);
      await p.page.getByTestId('recommendations').locator('tr').nth(19).waitFor();
      expect(await text(p.page, 'recommendations')).toContain(`Recommendations · version #${second}`);
      await saveScreenshot(p.page, 'dashboard-user.png');
      expectOfflineAndClean(p, base);
    }, 60_000);

    it('User explorer: an anonymous history picked by title or typed as ids gets the same panels; unknown ids are named', async () => {
      await p.page.goto(`${base}/dashboard/#/users`);
      await p.page.getByRole('link', { name: 'build an anonymous history' }).click();
      await p.page.locator('input[name="search"]').fill('toy story');
      await p.page.getByRole('button', { name: 'Toy Story (1995)' }).click();
      await p.page.waitForURL(/history=1$/);
      await p.page.getByTestId('history').getByRole('link', { name: 'Toy Story (1995)' }).waitFor();
      // Typed ids, one of them an item nobody rated (so the version has no vector for it).
      const typed = ['1', '260', '1196', '2571', unrated];
      await p.page.locator('input[name="itemIds"]').fill(typed.join(', '));
      await p.page.getByRole('button', { name: 'Explore history' }).click();
      await p.page.waitForURL(new RegExp(`history=${typed.join(',')}$`));
      await p.page.locator('ul.bars li').nth(3).waitFor();
      const api = (
        await admin(
          `query($h: [ID!]!) { anomalyScoreForHistory(itemIds: $h) { error percentile }
            recommendationsForHistory(itemIds: $h, limit: 20) { items { item { title } } } }`,
          { h: typed },
        )
      ).data;
      // The page shows what the API answers for this history.
      const recTitles = () => p.page.getByTestId('recommendations').locator('tr a').allInnerTexts();
      const expected = api.recommendationsForHistory.items.map((r: { item: { title: string } }) => r.item.title);
      expect(expected).toHaveLength(20);
      await waitFor(recTitles, (t) => JSON.stringify(t) === JSON.stringify(expected), 30_000, 100);
      expect(await text(p.page, 'recommendations')).toContain(`Recommendations · version #${second}`);
      expect(await text(p.page, 'anomaly')).toMatch(
        new RegExp(
          `Anomaly score\\s+${api.anomalyScoreForHistory.error.toFixed(3)}\\s+percentile ${api.anomalyScoreForHistory.percentile.toFixed(1)}`,
          'i',
        ),
      );
      expect(await text(p.page, 'known')).toMatch(new RegExp(`Known to the model\\s+4\\s+version #${second}`, 'i'));
      const history = p.page.getByTestId('history').locator('tr');
      expect(await history.count()).toBe(5);
      expect(await history.nth(1).innerText()).toContain('Star Wars: Episode IV - A New Hope (1977)');
      expect(await history.nth(4).innerText()).toContain(`not in version #${second}`);
      expect(await text(p.page, 'reconstruction')).toMatch(
        new RegExp(`Reconstruction \\(probability\\) · version #${second}[\\s\\S]*Matrix, The \\(1999\\)`),
      );
      expect(await p.page.locator('ul.bars li').count()).toBe(4);
      await saveScreenshot(p.page, 'dashboard-user-anonymous.png');
      // An item can be taken out again.
      const remove = p.page.getByRole('button', { name: `Remove ${unrated}`, exact: true });
      await remove.click();
      await p.page.waitForURL(/history=1,260,1196,2571$/);
      await remove.waitFor({ state: 'detached' });
      expect(await p.page.getByTestId('history').locator('tr').count()).toBe(4);
      expect(await p.page.getByTestId('history').innerText()).not.toContain('not in version');
      // Unknown ids: the API's error, with its code and the ids, instead of the panels.
      await p.page.locator('input[name="itemIds"]').fill('1, no-such-item');
      await p.page.getByRole('button', { name: 'Explore history' }).click();
      await p.page.getByRole('alert').getByText('UNKNOWN_ITEMS').waitFor();
      expect(await p.page.getByRole('alert').innerText()).toMatch(/itemIds: 1 unknown item\(s\): no-such-item/);
      expect(await p.page.getByTestId('reconstruction').count()).toBe(0);
      expectOfflineAndClean(p, base);
    }, 60_000);

    it('Anomalies: the most anomalous users, each a link to the explorer', async () => {
      await p.page.goto(`${base}/dashboard/#/anomalies`);
      await p.page.getByTestId('anomalies').locator('tbody tr').nth(49).waitFor();
      const top = (await admin('{ anomalousUsers(limit: 1) { user { id } percentile } }')).data.anomalousUsers[0];
      expect(await p.page.getByTestId('anomalies').locator('tbody tr').first().innerText()).toMatch(
        new RegExp(`^1\\s+user ${top.user.id}\\s+\\d+\\.\\d{3}\\s+${top.percentile.toFixed(1)}`),
      );
      await saveScreenshot(p.page, 'dashboard-anomalies.png');
      await p.page.getByRole('link', { name: 'explore →' }).first().click();
      await p.page.getByText(`User ${top.user.id}`, { exact: true }).waitFor();
      expectOfflineAndClean(p, base);
    });

    it('Items: search by title, the image and its reconstruction, collaborative and visual neighbours', async () => {
      await p.page.goto(`${base}/dashboard/#/items`);
      await p.page.locator('input[name="search"]').fill('forrest gump');
      await p.page.getByRole('button', { name: 'Forrest Gump (1994)' }).click();
      await p.page.waitForURL(/#\/items\/356$/);
      await p.page.getByTestId('reconstructed').waitFor({ timeout: 30_000 });
      await p.page.getByTestId('collaborative').locator('tr').nth(11).waitFor();
      const visual = p.page.getByTestId('visual').locator('tr');
      await visual.first().waitFor();
      expect(await visual.count()).toBeGreaterThan(0);
      expect(await p.page.getByTestId('visual').locator('img.mini').count()).toBe(await visual.count());
      expect(await text(p.page, 'item')).toMatch(/CONV_AE #\d+ · error 0\.\d{4}/);
      await saveScreenshot(p.page, 'dashboard-items.png');
      expectOfflineAndClean(p, base);
    });
  });

  describe('with an admin key', () => {
    let p: OfflinePage;
    beforeAll(async () => {
      p = await signIn(adminKey);
    }, 60_000);
    afterAll(async () => p?.context.close());

    it('Training: starts a run, its loss and validation curves grow while it trains, cancels it; a finished run shows its decision', async () => {
      await p.page.goto(`${base}/dashboard/#/training`);
      await p.page.getByTestId('start-run').waitFor();
      await p.page.locator('select[name="kind"]').selectOption('DAE');
      await p.page.locator('select[name="activate"]').selectOption('NEVER');
      // A small Mult-DAE with far more epochs than the test waits for, no early stopping: the page,
      // polling every second, shows the curve grow epoch by epoch, then the run is cancelled.
      await p.page.locator('input[name="epochs"]').fill('1000');
      await p.page
        .locator('input[name="hyperparameters"]')
        .fill('{"patience": 1000, "latentDim": 16, "hiddenUnits": [32], "batchSize": 64}');
      await p.page.getByRole('button', { name: 'Train' }).click();
      await p.page.waitForURL(/#\/training\/\d+$/);
      const runId = Number(p.page.url().split('/').pop());
      const points = () =>
        p.page.evaluate(() => {
          const chart = (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="loss-chart"]') as {
            getAttribute(name: string): string | null;
          } | null;
          return Number(chart?.getAttribute('data-points') ?? 0);
        });
      // The chart's point count grows: some epochs shown, then more, while the run is still going.
      const early = await waitFor(points, (n) => n >= 1, 120_000, 100);
      await waitFor(points, (n) => n > early, 120_000, 100);
      expect(await text(p.page, 'run')).toMatch(/RUNNING[\s\S]*epoch \d+ of 1000/);
      expect(await p.page.locator('[data-testid="validation-chart"] canvas').count()).toBe(1);
      await saveScreenshot(p.page, 'dashboard-training.png');
      await p.page.getByRole('button', { name: 'Cancel run' }).click();
      await p.page.getByTestId('run').getByText('CANCELLED', { exact: true }).waitFor({ timeout: 60_000 });
      const run = (
        await admin('query($id: Int!) { trainingRun(id: $id) { status history { epoch } versionId } }', { id: runId })
      ).data.trainingRun;
      expect(run).toMatchObject({ status: 'CANCELLED', versionId: null });
      expect(run.history.length).toBeGreaterThan(early);
      expect(run.history.length).toBeLessThan(1000);
      // Every epoch it finished stays on the chart; nothing left to cancel.
      await p.page.locator(`[data-testid="loss-chart"][data-points="${run.history.length}"]`).waitFor();
      expect(await p.page.getByRole('button', { name: 'Cancel run' }).count()).toBe(0);
      // A run that finished (the image autoencoder's, trained in the setup): its decision and reason.
      await p.page
        .getByTestId('runs')
        .getByRole('link', { name: new RegExp(`#${convRun}\\b`) })
        .click();
      await p.page.waitForURL(new RegExp(`#/training/${convRun}$`));
      await p.page.getByTestId('decision').waitFor();
      expect(await text(p.page, 'decision')).toMatch(/^Activated: activated \(ALWAYS\); mse 0\.\d{4}/);
      expect(await text(p.page, 'run')).toContain('SUCCEEDED');
      await p.page.locator('[data-testid="loss-chart"][data-points="10"]').waitFor();
      expectOfflineAndClean(p, base);
    }, 300_000);

    it('Models: lists the versions with metrics, compares two, rolls back', async () => {
      await p.page.goto(`${base}/dashboard/#/models`);
      await p.page.locator(`tr[data-version="${first}"]`).waitFor();
      const row = (id: number) => p.page.locator(`tr[data-version="${id}"]`);
      expect(await row(second).innerText()).toMatch(/DAE[\s\S]*100,836 interactions[\s\S]*0\.\d{4}[\s\S]*active/);
      await row(first).getByRole('checkbox').check();
      await row(second).getByRole('checkbox').check();
      const comparison = p.page.getByTestId('comparison');
      await comparison.waitFor();
      expect(await comparison.innerText()).toMatch(/validation · ndcg@100\s+0\.\d{4}\s+0\.\d{4}/);
      expect(await comparison.innerText()).toMatch(/setting · seed\s+1\s+2/);
      await saveScreenshot(p.page, 'dashboard-models.png');
      await row(first).getByRole('button', { name: 'Roll back' }).click();
      await row(first).getByText('active', { exact: true }).waitFor({ timeout: 30_000 });
      expect((await admin('{ servingStatus { modelVersion { id } } }')).data.servingStatus.modelVersion.id).toBe(first);
      expect(await row(second).getByRole('button', { name: 'Activate' }).count()).toBe(1); // newer than the active one
      expectOfflineAndClean(p, base);
    }, 60_000);

    it('Experiments: starts one between two versions, shows each arm against the control with intervals, stops it with a winner', async () => {
      await p.page.goto(`${base}/dashboard/#/experiments`);
      const form = p.page.getByTestId('start-experiment');
      await form.waitFor();
      await form.locator('select').nth(0).selectOption(String(first));
      await form.locator('select').nth(1).selectOption(String(second));
      await form.getByRole('button', { name: 'Start' }).click();
      await p.page.waitForURL(/#\/experiments\/\d+$/);
      const id = Number(p.page.url().split('/').pop());
      // Traffic: 60 users; those in the treatment click their first recommendation.
      const clicks = [];
      for (let u = 1; u <= 60; u++) {
        const r = (
          await admin(
            'query($u: ID!) { recommendations(userId: $u, limit: 10) { recommendationId modelVersionId items { item { id } } } }',
            { u: String(u) },
          )
        ).data.recommendations;
        if (r.modelVersionId === second)
          clicks.push({
            userId: String(u),
            itemId: r.items[0].item.id,
            kind: 'CLICK',
            recommendationId: r.recommendationId,
          });
      }
      expect(clicks.length).toBeGreaterThan(5);
      expect(
        (
          await admin(
            'mutation($i: [RecordInteractionInput!]!) { recordInteractions(interactions: $i) { duplicates } }',
            { i: clicks },
          )
        ).errors,
      ).toBeUndefined();
      // Impressions reach the table within RECODER_IMPRESSION_FLUSH_MS; reload until both arms show theirs.
      const arms = p.page.getByTestId('arms');
      const impressions = (arm: number) =>
        arms.locator(`tr[data-arm="${arm}"]`).getAttribute('data-impressions').then(Number);
      await waitFor(
        async () => {
          await p.page.goto(`${base}/dashboard/#/experiments/${id}?t=${Date.now()}`);
          await arms.locator('tr[data-arm="1"]').waitFor();
          return (await impressions(0)) + (await impressions(1));
        },
        (n) => n === 60,
        30_000,
        500,
      );
      const treatment = arms.locator('tr[data-arm="1"]');
      expect(await treatment.getAttribute('data-significant')).toBe('true');
      expect(await treatment.innerText()).toMatch(/\+\d+\.\d+ pp \[\+\d+\.\d+ pp, \+\d+\.\d+ pp\]\s*significant/);
      expect(await arms.locator('tr[data-arm="0"]').innerText()).toContain('control');
      await saveScreenshot(p.page, 'dashboard-experiments.png');
      await treatment.getByRole('button', { name: `Stop, activate #${second}` }).click();
      await treatment.getByText('winner', { exact: true }).waitFor({ timeout: 30_000 });
      expect((await admin('{ servingStatus { modelVersion { id } } }')).data.servingStatus.modelVersion.id).toBe(
        second,
      );
      expect(await text(p.page, 'experiment-report')).toContain(
        `stopped by stopExperiment; winner version ${second} activated`,
      );
      expectOfflineAndClean(p, base);
    }, 120_000);
  });
});
