import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Random } from '../src/core/data/random.js';
import { initBackend } from '../src/core/engine/backend.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { trainVersion, type TrainVersionOptions } from '../src/training/train-version.js';
import { gql, testDatabaseUrl } from './helpers.js';

/**
 * Taste groups for training tests: 4 categories × 30 items; 160 users each like 12 items of one
 * category (popular ones more often), so a model that learns anything ranks a user's own group first.
 */
export const GROUPS = 4;
export const PER_GROUP = 30;
export const itemId = (g: number, i: number) => `m${g}-${i}`;

export function tasteInteractions(users = 160, seed = 42): { userId: string; itemId: string }[] {
  const rng = new Random(seed);
  const out: { userId: string; itemId: string }[] = [];
  for (let n = 0; n < users; n++) {
    const g = n % GROUPS;
    const picked = new Set<number>();
    while (picked.size < 12) picked.add(Math.floor(PER_GROUP * rng.uniform() ** 1.7));
    for (const i of picked) out.push({ userId: `u${n}`, itemId: itemId(g, i) });
  }
  return out;
}

/** Upserts the catalog and records the taste-group interactions through GraphQL. */
export async function seedTasteGroups(app: NestFastifyApplication): Promise<void> {
  const items = [];
  for (let g = 0; g < GROUPS; g++)
    for (let i = 0; i < PER_GROUP; i++)
      items.push({ id: itemId(g, i), title: `Item ${g}/${i}`, categories: [`g${g}`] });
  const upsert = await gql(app, `mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, {
    items,
  });
  if (upsert.errors) throw new Error(JSON.stringify(upsert.errors));
  const record = await gql(
    app,
    `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { createdUsers } }`,
    {
      interactions: tasteInteractions(),
    },
  );
  if (record.errors) throw new Error(JSON.stringify(record.errors));
}

/** Polls `read` until `done` holds (or throws after `timeoutMs`, showing the last value). */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > until)
      throw new Error(`waitFor: timed out after ${timeoutMs} ms; last value ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const RUN_FIELDS = `id status activation trigger epoch epochs activated decision error versionId cancelRequested startedAt finishedAt
  history { epoch loss validation seconds } comparison { metric candidate active activeVersionId users } modelVersion { id active metrics }`;

export async function trainingRun(app: NestFastifyApplication, id: number): Promise<Record<string, any>> {
  const res = await gql(app, `query($id: Int!) { trainingRun(id: $id) { ${RUN_FIELDS} } }`, { id });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.trainingRun;
}

export async function trainModel(app: NestFastifyApplication, input: Record<string, unknown>): Promise<number> {
  const res = await gql(app, `mutation($input: TrainModelInput!) { trainModel(input: $input) { id status } }`, {
    input,
  });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.trainModel.id;
}

export async function servedVersion(app: NestFastifyApplication): Promise<number | null> {
  const res = await gql(app, `{ servingStatus { modelVersion { id } } }`);
  return res.data!.servingStatus.modelVersion?.id ?? null;
}

/** Trains a small model version on the test database (or `databaseUrl`) directly (no worker); returns its id. */
export async function trainTestVersion(
  options: Partial<TrainVersionOptions> = {},
  databaseUrl = testDatabaseUrl(),
): Promise<number> {
  const { tf } = await initBackend();
  const prisma = createPrismaClient(databaseUrl, 2);
  try {
    const { version } = await trainVersion(tf, databaseUrl, prisma, {
      kind: 'dae',
      epochs: 40,
      seed: 3,
      hyperparameters: { latentDim: 16, batchSize: 32, learningRate: 5e-3 },
      ...options,
    });
    return version.id;
  } finally {
    await prisma.$disconnect();
  }
}
