import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Random } from '../src/core/data/random.js';
import { loadEnv } from '../src/config/env.js';
import { ExperimentRouter } from '../src/experiments/experiment-router.js';
import { ExperimentsService } from '../src/experiments/experiments.service.js';
import { ImpressionLog } from '../src/experiments/impression-log.service.js';
import { bootApp, gql, sql, truncateAll } from './helpers.js';
import { trainTestVersion } from './training-data.js';

/** 4 categories × 30 items; 120 users each like 12 items of one category. */
const GROUPS = 4;
const PER_GROUP = 30;
const itemId = (g: number, i: number) => `m${g}-${i}`;

function interactions(): { userId: string; itemId: string }[] {
  const rng = new Random(7);
  const out: { userId: string; itemId: string }[] = [];
  for (let n = 0; n < 120; n++) {
    const picked = new Set<number>();
    while (picked.size < 12) picked.add(Math.floor(PER_GROUP * rng.uniform() ** 1.7));
    for (const i of picked) out.push({ userId: `u${n}`, itemId: itemId(n % GROUPS, i) });
  }
  return out;
}

const RECS = `query($userId: ID!, $limit: Int!) { recommendations(userId: $userId, limit: $limit) { recommendationId source modelVersionId items { item { id } } } }`;
const RECS_HISTORY = `query($itemIds: [ID!]!, $sessionId: ID) { recommendationsForHistory(itemIds: $itemIds, limit: 5, sessionId: $sessionId) { recommendationId source modelVersionId items { item { id } } } }`;
const RECORD = `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { stored { id recommendationId } } }`;
const METRICS = `query($v: Int!, $since: DateTime!, $until: DateTime, $k: Int) {
  onlineMetrics(versionId: $v, since: $since, until: $until, k: $k) {
    impressions subjects k attributedInteractions attributedById itemsShown catalogCoverage
    ctr { successes trials rate low high } fallbackShare { successes trials rate }
    conversions { kind weight rate { successes trials } } weightedConversion { n mean low high }
  }
}`;
const EXPERIMENT = `query($id: Int!) { experiment(id: $id) { id status slot stopReason winnerVersionId stoppedAt
  arms { arm versionId weight control metrics { impressions ctr { successes trials } } ctrDifference { estimate low high pValue significant } } } }`;
const START = `mutation($arms: [ExperimentArmInput!]!) { startExperiment(arms: $arms, name: "test") { id status arms { arm versionId control } } }`;
const STOP = `mutation($id: Int!, $winner: Int) { stopExperiment(id: $id, winner: $winner) { id status winnerVersionId stopReason } }`;
const ACTIVATE = `mutation($id: Int!) { activateModelVersion(id: $id) { id active } }`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('impressions, attribution, online metrics and experiments over GraphQL', () => {
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let v1: number;
  let v2: number;
  const env = loadEnv({});
  // A long flush interval: tests write the buffer when they need it (flushImpressions), never by a timer race.
  const overrides = { impressions: { ...env.impressions, flushMs: 600_000 } };
  const flush = async () => {
    await a.get(ExperimentsService).flushImpressions();
    if (b) await b.get(ExperimentsService).flushImpressions();
  };
  const recs = async (app: NestFastifyApplication, userId: string, limit = 10) => {
    const res = await gql(app, RECS, { userId, limit });
    expect(res.errors).toBeUndefined();
    return res.data!.recommendations as {
      recommendationId: string;
      source: string;
      modelVersionId: number | null;
      items: { item: { id: string } }[];
    };
  };
  const metrics = async (v: number, since: Date, k = 10, until?: Date) => {
    const res = await gql(a, METRICS, {
      v,
      since: since.toISOString(),
      until: (until ?? new Date(Date.now() + 1000)).toISOString(),
      k,
    });
    expect(res.errors).toBeUndefined();
    return res.data!.onlineMetrics;
  };

  beforeAll(async () => {
    await truncateAll();
    a = await bootApp(overrides);
    const items = [];
    for (let g = 0; g < GROUPS; g++)
      for (let i = 0; i < PER_GROUP; i++) items.push({ id: itemId(g, i), categories: [`g${g}`] });
    expect(
      (await gql(a, `mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, { items })).errors,
    ).toBeUndefined();
    expect((await gql(a, RECORD, { interactions: interactions() })).errors).toBeUndefined();
    v1 = await trainTestVersion({ kind: 'ease', lambda: 50 });
    v2 = await trainTestVersion({ kind: 'ease', lambda: 500 });
    expect((await gql(a, ACTIVATE, { id: v1 })).errors).toBeUndefined();
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('gives every answer a recommendationId and records the impression off the request path', async () => {
    const r = await recs(a, 'u1');
    expect(r.recommendationId).toMatch(UUID);
    expect(r.source).toBe('MODEL');
    const unknown = await recs(a, 'nobody');
    expect(unknown.source).toBe('POPULARITY');
    const anon = (await gql(a, RECS_HISTORY, { itemIds: ['m0-1', 'm0-2'], sessionId: 'sess-1' })).data!
      .recommendationsForHistory;
    expect(anon.recommendationId).toMatch(UUID);
    expect(new Set([r.recommendationId, unknown.recommendationId, anon.recommendationId]).size).toBe(3);
    // Nothing is written until the buffer is flushed: the answer did not wait for the database.
    expect(await sql(`SELECT 1 FROM impressions WHERE id = $1`, [r.recommendationId])).toHaveLength(0);
    await flush();
    const rows = await sql(
      `SELECT m.id, m.subject, m.anonymous, m.version_id, m.fallback, m.experiment_id,
              array(SELECT it.external_id FROM unnest(m.item_ids) WITH ORDINALITY x(id, o) JOIN items it ON it.id = x.id ORDER BY x.o) AS items
       FROM impressions m WHERE m.id = ANY($1::uuid[]) ORDER BY m.created_at`,
      [[r.recommendationId, unknown.recommendationId, anon.recommendationId]],
    );
    expect(rows).toHaveLength(3);
    const byId = new Map(rows.map((x) => [x.id, x]));
    expect(byId.get(r.recommendationId)).toMatchObject({
      subject: 'u1',
      anonymous: false,
      version_id: v1,
      fallback: false,
      experiment_id: null,
      items: r.items.map((x) => x.item.id),
    });
    expect(byId.get(unknown.recommendationId)).toMatchObject({ subject: 'nobody', fallback: true, version_id: v1 });
    expect(byId.get(anon.recommendationId)).toMatchObject({
      subject: 'sess-1',
      anonymous: true,
      version_id: v1,
      items: anon.items.map((x: any) => x.item.id),
    });
    const text = (await a.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/recoder_impressions_written_total \d+/);
    expect(text).toContain('recoder_impressions_dropped_total{reason="buffer_full"} 0');
  });

  it('attributes an interaction by recommendationId, and without it within the window; CTR@k counts positions', async () => {
    const since = new Date();
    const r2 = await recs(a, 'u2');
    const r3 = await recs(a, 'u3');
    const r5 = await recs(a, 'u5');
    await flush();
    const res = await gql(a, RECORD, {
      interactions: [
        // by id, item at position 2
        { userId: 'u2', itemId: r2.items[1].item.id, kind: 'CLICK', recommendationId: r2.recommendationId },
        // without id, item at position 5, then a purchase of it
        { userId: 'u3', itemId: r3.items[4].item.id, kind: 'CLICK' },
        { userId: 'u3', itemId: r3.items[4].item.id, kind: 'PURCHASE' },
        // without id, an item u5 was not shown: not attributed
        {
          userId: 'u5',
          itemId: r2.items
            .map((x) => x.item.id)
            .concat(r3.items.map((x) => x.item.id))
            .find((id) => !r5.items.some((x) => x.item.id === id))!,
        },
      ],
    });
    expect(res.errors).toBeUndefined();
    expect(res.data!.recordInteractions.stored[0].recommendationId).toBe(r2.recommendationId);
    const m = await metrics(v1, since);
    expect(m).toMatchObject({
      impressions: 3,
      subjects: 3,
      k: 10,
      attributedInteractions: 3,
      attributedById: 1,
      fallbackShare: { successes: 0, trials: 3 },
    });
    expect(m.ctr).toMatchObject({ successes: 2, trials: 3 });
    expect(m.ctr.low).toBeLessThan(2 / 3);
    expect(m.ctr.high).toBeGreaterThan(2 / 3);
    expect(m.conversions).toEqual([
      { kind: 'CLICK', weight: 1, rate: { successes: 2, trials: 3 } },
      { kind: 'PURCHASE', weight: 1, rate: { successes: 1, trials: 3 } },
    ]);
    expect(m.weightedConversion.mean).toBeCloseTo(1, 9); // (1 + 2 + 0) / 3
    expect(m.itemsShown).toBeGreaterThanOrEqual(10);
    expect(m.catalogCoverage).toBeCloseTo(m.itemsShown / (GROUPS * PER_GROUP), 9);
    // CTR@3: only u2's click (position 2) counts.
    expect((await metrics(v1, since, 3)).ctr).toMatchObject({ successes: 1, trials: 3 });
  });

  it('does not attribute past the window, and ingestion never depends on the impression', async () => {
    const since = new Date(Date.now() - 48 * 3600_000);
    const r = await recs(a, 'u6');
    await flush();
    await sql(`UPDATE impressions SET created_at = created_at - interval '25 hours' WHERE id = $1`, [
      r.recommendationId,
    ]);
    expect(
      (await gql(a, RECORD, { interactions: [{ userId: 'u6', itemId: r.items[0].item.id, kind: 'CLICK' }] })).errors,
    ).toBeUndefined();
    const old = await metrics(v1, since, 10, new Date(Date.now() - 24 * 3600_000));
    expect(old).toMatchObject({ impressions: 1, attributedInteractions: 0, ctr: { successes: 0 } });
    // A malformed id rejects the whole batch (nothing written); a well-formed id of no stored impression is stored.
    const before = Number((await sql(`SELECT count(*) AS n FROM interactions`))[0].n);
    const bad = await gql(a, RECORD, {
      interactions: [
        { userId: 'u7', itemId: 'm0-1' },
        { userId: 'u7', itemId: 'm0-2', recommendationId: 'not-a-uuid' },
      ],
    });
    expect(bad.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'interactions[1].recommendationId',
    });
    expect(Number((await sql(`SELECT count(*) AS n FROM interactions`))[0].n)).toBe(before);
    const orphan = '00000000-0000-4000-8000-000000000000';
    const ok = await gql(a, RECORD, { interactions: [{ userId: 'u7', itemId: 'm0-2', recommendationId: orphan }] });
    expect(ok.data!.recordInteractions.stored[0].recommendationId).toBe(orphan);
  });

  it('validates onlineMetrics arguments', async () => {
    const res = await gql(a, METRICS, {
      v: v1,
      since: new Date().toISOString(),
      until: new Date(Date.now() - 1000).toISOString(),
    });
    expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'until' });
    const k = await gql(a, METRICS, { v: v1, since: new Date(Date.now() - 3600_000).toISOString(), k: 0 });
    expect(k.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'k' });
    const start = await gql(a, START, { arms: [{ versionId: v1, weight: 1 }] });
    expect(start.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'arms' });
    const missing = await gql(a, START, {
      arms: [
        { versionId: v1, weight: 1 },
        { versionId: 999, weight: 1 },
      ],
    });
    expect(missing.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'arms[1].versionId' });
    const weight = await gql(a, START, {
      arms: [
        { versionId: v1, weight: 1 },
        { versionId: v2, weight: 0 },
      ],
    });
    expect(weight.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'arms[1].weight' });
  });

  it('counts experiment metrics in the query cost: each arms list costs as much as a large page', async () => {
    const ok = await gql(a, `{ experiments(limit: 40) { id arms { arm } } }`);
    expect(ok.errors).toBeUndefined();
    // 2 + 50 × (id 1 + arms 200) > RECODER_MAX_QUERY_COST (10,000).
    const heavy = await gql(a, `{ experiments(limit: 50) { id arms { arm } } }`);
    expect(heavy.errors![0].extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  describe('an experiment between two versions', () => {
    let id: number;

    beforeAll(async () => {
      const res = await gql(a, START, {
        arms: [
          { versionId: v1, weight: 1 },
          { versionId: v2, weight: 1 },
        ],
      });
      expect(res.errors).toBeUndefined();
      id = res.data!.startExperiment.id;
      expect(res.data!.startExperiment).toMatchObject({
        status: 'RUNNING',
        arms: [
          { arm: 0, versionId: v1, control: true },
          { arm: 1, versionId: v2, control: false },
        ],
      });
      // A second API instance on the same database learns of it by NOTIFY.
      b = await bootApp(overrides);
      await waitFor(
        'the second instance to serve the experiment',
        () => b.get(ExperimentRouter).servingExperimentId === id,
      );
    }, 60_000);

    it('refuses a second experiment in the slot', async () => {
      const res = await gql(a, START, {
        arms: [
          { versionId: v2, weight: 1 },
          { versionId: v1, weight: 1 },
        ],
      });
      expect(res.errors![0].extensions).toMatchObject({ code: 'CONFLICT', field: 'slot', experimentId: id });
    });

    it('keeps each user in one arm in both instances, and records the arm', async () => {
      const arms = new Map<string, number>();
      for (let n = 0; n < 40; n++) {
        const user = `u${n}`;
        const fromA = await recs(a, user, 5);
        const fromB = await recs(b, user, 5);
        expect(fromB.modelVersionId).toBe(fromA.modelVersionId);
        expect((await recs(a, user, 5)).modelVersionId).toBe(fromA.modelVersionId);
        arms.set(user, fromA.modelVersionId!);
      }
      // Concurrent requests share micro-batches that rank both arms: each still gets its own arm's ranking.
      const together = await Promise.all([...arms.keys()].map((user) => recs(a, user, 5)));
      [...arms.keys()].forEach((user, k) => expect(together[k].modelVersionId).toBe(arms.get(user)));
      const counts = [...arms.values()].reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<number, number>());
      expect(counts.get(v1)).toBeGreaterThan(5);
      expect(counts.get(v2)).toBeGreaterThan(5);
      await flush();
      const rows = await sql(`SELECT version_id, arm FROM impressions WHERE experiment_id = $1`, [id]);
      expect(rows).toHaveLength(160);
      for (const r of rows) expect(r.version_id).toBe(r.arm === 0 ? v1 : v2);
      // Sessions are sticky too.
      const s1 = (await gql(a, RECS_HISTORY, { itemIds: ['m1-1'], sessionId: 'sess-x' })).data!
        .recommendationsForHistory.modelVersionId;
      const s2 = (await gql(b, RECS_HISTORY, { itemIds: ['m1-1'], sessionId: 'sess-x' })).data!
        .recommendationsForHistory.modelVersionId;
      expect(s2).toBe(s1);
    });

    it("reports each arm's metrics and the difference to the control", async () => {
      // Users of arm 1 click their first recommendation; users of arm 0 do not.
      const clicks = [];
      for (let n = 0; n < 40; n++) {
        const r = await recs(a, `u${n}`, 5);
        if (r.modelVersionId === v2)
          clicks.push({
            userId: `u${n}`,
            itemId: r.items[0].item.id,
            kind: 'CLICK',
            recommendationId: r.recommendationId,
          });
      }
      await flush();
      expect((await gql(a, RECORD, { interactions: clicks })).errors).toBeUndefined();
      const res = await gql(a, EXPERIMENT, { id });
      expect(res.errors).toBeUndefined();
      const [control, treatment] = res.data!.experiment.arms;
      expect(control).toMatchObject({ arm: 0, control: true, ctrDifference: null });
      expect(treatment.metrics.ctr.successes).toBe(clicks.length);
      expect(treatment.ctrDifference.estimate).toBeGreaterThan(0);
      expect(treatment.ctrDifference.low).toBeLessThan(treatment.ctrDifference.estimate);
      expect(treatment.ctrDifference.significant).toBe(true);
      expect(control.metrics.impressions + treatment.metrics.impressions).toBe(160 + 2 + 40); // and the two session answers
    });

    it('stopExperiment activates the winner in every instance', async () => {
      const res = await gql(a, STOP, { id, winner: v2 });
      expect(res.errors).toBeUndefined();
      expect(res.data!.stopExperiment).toMatchObject({
        status: 'STOPPED',
        winnerVersionId: v2,
        stopReason: `stopped by stopExperiment; winner version ${v2} activated`,
      });
      expect((await recs(a, 'u0')).modelVersionId).toBe(v2);
      await waitFor(
        'the second instance to leave the experiment',
        () => b.get(ExperimentRouter).servingExperimentId === null,
      );
      await waitFor('the second instance to serve the winner', async () => (await recs(b, 'u1')).modelVersionId === v2);
      for (let n = 0; n < 10; n++) expect((await recs(b, `u${n}`)).modelVersionId).toBe(v2);
      const again = await gql(a, STOP, { id });
      expect(again.errors![0].extensions).toMatchObject({ code: 'ALREADY_FINISHED' });
      const notArm = await gql(a, STOP, { id, winner: 999 });
      expect(notArm.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'winner' });
    });

    it('activating a version outside a running experiment stops it explicitly', async () => {
      const started = await gql(a, START, {
        arms: [
          { versionId: v2, weight: 1 },
          { versionId: v1, weight: 3 },
        ],
      });
      expect(started.errors).toBeUndefined();
      const second = started.data!.startExperiment.id;
      await waitFor('the second instance to serve it', () => b.get(ExperimentRouter).servingExperimentId === second);
      expect((await gql(a, ACTIVATE, { id: v1 })).errors).toBeUndefined();
      const e = (await gql(a, EXPERIMENT, { id: second })).data!.experiment;
      expect(e).toMatchObject({
        status: 'STOPPED',
        winnerVersionId: null,
        stopReason: `model version ${v1} was activated outside the experiment`,
      });
      await waitFor(
        'both instances to leave it',
        () =>
          a.get(ExperimentRouter).servingExperimentId === null && b.get(ExperimentRouter).servingExperimentId === null,
      );
      // The activation reaches the second instance on its own notice (it may leave the experiment first).
      await waitFor(
        'the second instance to serve the activated version',
        async () => (await recs(b, 'u1')).modelVersionId === v1,
      );
      for (let n = 0; n < 10; n++) expect((await recs(b, `u${n}`)).modelVersionId).toBe(v1);
    });
  });

  it('deletes impressions past RECODER_IMPRESSION_RETENTION_DAYS', async () => {
    const r = await recs(a, 'u9');
    const keep = await recs(a, 'u10');
    await flush();
    await sql(`UPDATE impressions SET created_at = now() - interval '91 days' WHERE id = $1`, [r.recommendationId]);
    const range = new Date(Date.now() - 92 * 86_400_000);
    expect((await metrics(v1, range, 10, new Date(Date.now() - 90 * 86_400_000))).impressions).toBe(1);
    expect(await a.get(ImpressionLog).deleteExpired()).toBeGreaterThanOrEqual(1);
    expect((await metrics(v1, range, 10, new Date(Date.now() - 90 * 86_400_000))).impressions).toBe(0);
    expect(await sql(`SELECT 1 FROM impressions WHERE id = $1`, [keep.recommendationId])).toHaveLength(1);
  });
});
