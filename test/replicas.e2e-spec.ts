import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootApp, truncateAll } from './helpers.js';
import { exited, freePort, spawnBuilt, type BuiltProcess } from './processes.js';
import { seedTasteGroups, waitFor } from './training-data.js';

/** A GraphQL call to a process over HTTP: the answer, or a thrown error for a transport or HTTP failure. */
async function post(
  port: number,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ data?: any; errors?: any[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as { data?: any; errors?: any[] };
}

const RECS =
  'query($u: ID!) { recommendations(userId: $u, limit: 10) { source modelVersionId items { item { id } } } }';
const SERVED = '{ servingStatus { modelVersion { id } } }';

/**
 * The scale-out deployment of docs/deployment.md: two API processes (RECODER_TRAINING_WORKER=off)
 * and one worker process on one PostgreSQL, under a steady recommendation load on both APIs.
 * A training run queued through one API is trained by the worker; its activation, a second
 * activation and a catalog change made through the other API reach both; no request fails.
 */
describe('two API replicas and a worker process under load', () => {
  let seeder: NestFastifyApplication;
  const processes: BuiltProcess[] = [];
  const ports: number[] = [];

  beforeAll(async () => {
    await truncateAll();
    seeder = await bootApp({ trainingWorker: 'off' });
    await seedTasteGroups(seeder);
    await seeder.close();
    for (let k = 0; k < 2; k++) {
      const port = await freePort();
      ports.push(port);
      processes.push(
        spawnBuilt('main', { PORT: String(port), RECODER_TRAINING_WORKER: 'off', RECODER_MODEL_THREADS: '1' }),
      );
    }
    processes.push(spawnBuilt('worker', { LOG_LEVEL: 'warn' }));
    for (const port of ports)
      await waitFor(
        () => post(port, SERVED).catch(() => null),
        (r) => r?.data?.servingStatus !== undefined,
        60_000,
        250,
      );
  }, 120_000);

  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => exited(p.child)));
  });

  it('a training run, two activations and a catalog change reach both replicas; nothing fails', async () => {
    // The load: 4 loops per replica, random users, until stopped; every answer checked.
    let stop = false;
    const failures: string[] = [];
    const served = [new Map<number | null, number>(), new Map<number | null, number>()];
    let requests = 0;
    const loop = async (replica: number, seed: number) => {
      let n = seed;
      while (!stop) {
        n = (n * 1103515245 + 12345) % 2147483648;
        const user = `u${n % 160}`;
        try {
          const r = await post(ports[replica], RECS, { u: user });
          requests++;
          if (r.errors) failures.push(`replica ${replica}: ${JSON.stringify(r.errors)}`);
          else if (r.data.recommendations.items.length !== 10)
            failures.push(`replica ${replica}: ${r.data.recommendations.items.length} items for ${user}`);
          else {
            const v = r.data.recommendations.modelVersionId ?? null;
            served[replica].set(v, (served[replica].get(v) ?? 0) + 1);
          }
        } catch (error) {
          failures.push(`replica ${replica}: ${(error as Error).message}`);
        }
      }
    };
    const load = [0, 1].flatMap((replica) => [1, 2, 3, 4].map((s) => loop(replica, replica * 10 + s)));
    try {
      const [a, b] = ports;
      const train = async (port: number, input: Record<string, unknown>) => {
        const res = await post(port, 'mutation($input: TrainModelInput!) { trainModel(input: $input) { id } }', {
          input,
        });
        expect(res.errors).toBeUndefined();
        const id = res.data.trainModel.id as number;
        const run = await waitFor(
          () => post(port, 'query($id: Int!) { trainingRun(id: $id) { status versionId error } }', { id }),
          (r) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.data.trainingRun.status),
          120_000,
          250,
        );
        expect(run.data.trainingRun).toMatchObject({ status: 'SUCCEEDED', error: null });
        return run.data.trainingRun.versionId as number;
      };
      const bothServe = async (version: number) => {
        for (const port of ports)
          await waitFor(
            () => post(port, SERVED),
            (r) => r.data.servingStatus.modelVersion?.id === version,
            60_000,
            100,
          );
      };

      // 1. Trained by the worker (queued through replica A), activated for both.
      const v1 = await train(a, { kind: 'EASE', lambda: 50, activate: 'ALWAYS' });
      await bothServe(v1);

      // 2. A catalog change through replica B reaches A: the item A recommends first is hidden.
      const top = async (port: number) =>
        (await post(port, RECS, { u: 'u1' })).data.recommendations.items.map(
          (i: { item: { id: string } }) => i.item.id,
        ) as string[];
      const first = (await top(a))[0];
      expect(
        (await post(b, 'mutation($id: ID!) { setItemHidden(itemId: $id, hidden: true) { id hidden } }', { id: first }))
          .data.setItemHidden.hidden,
      ).toBe(true);
      for (const port of ports)
        await waitFor(
          () => top(port),
          (ids) => !ids.includes(first),
          10_000,
          50,
        );

      // 3. A second version, activated through replica B, replaces the first on both.
      const v2 = await train(b, { kind: 'EASE', lambda: 200, activate: 'NEVER' });
      const activated = await post(b, 'mutation($id: Int!) { activateModelVersion(id: $id) { id active } }', {
        id: v2,
      });
      expect(activated.data.activateModelVersion).toEqual({ id: v2, active: true });
      await bothServe(v2);
      // Let the load run on the new version for a moment.
      await new Promise((r) => setTimeout(r, 500));
      expect(served[0].get(v2)).toBeGreaterThan(0);
      expect(served[1].get(v2)).toBeGreaterThan(0);
      expect(served[0].get(v1)).toBeGreaterThan(0);
      expect(served[1].get(v1)).toBeGreaterThan(0);
      // The hidden item stays out on both, under the new version too.
      for (const port of ports) expect(await top(port)).not.toContain(first);
    } finally {
      stop = true;
      await Promise.all(load);
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(100);
  }, 300_000);
});
