import readline from 'node:readline';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { csrFromTriples, type CsrMatrix } from '../core/data/csr.js';

export interface TrainingDataOptions {
  /** RATING interactions count as positives when value ≥ this (Liang et al. binarise ML ratings > 3.5). */
  minRating: number;
}

/** The interactions table as matrices over dense indices, with the external ids of each row/column. */
export interface TrainingData {
  /** External user id of each matrix row. */
  userIds: string[];
  /** External item id of each matrix column. */
  itemIds: string[];
  /** [users × items] implicit positives in {0, 1}: any non-RATING interaction, or a rating ≥ minRating. */
  implicit: CsrMatrix;
  /** [users × items] explicit ratings (RATING interactions; the latest wins), for AutoRec. */
  ratings: CsrMatrix;
  /** Data snapshot: rows read and the latest occurred_at among them. */
  interactionCount: number;
  latestAt: Date | null;
  /** Largest interactions.id read (ids grow with arrival): later ids arrived after this snapshot. */
  maxInteractionId: bigint | null;
}

/**
 * Reads every interaction through COPY TO STDOUT (the database's fast path; about 2 s per million
 * rows) and builds the training matrices. Items and users with no interaction get no index.
 */
export async function loadTrainingData(url: string, opts: TrainingDataOptions): Promise<TrainingData> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a broken connection fails the running query, which rejects
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const userDense = new Map<number, number>();
    const itemDense = new Map<number, number>();
    const userInternal: number[] = [];
    const itemInternal: number[] = [];
    const dense = (map: Map<number, number>, list: number[], id: number) => {
      let d = map.get(id);
      if (d === undefined) {
        d = list.length;
        map.set(id, d);
        list.push(id);
      }
      return d;
    };
    const pos = { rows: [] as number[], cols: [] as number[] };
    const rat = { rows: [] as number[], cols: [] as number[], values: [] as number[] };
    let count = 0;
    let latest = -Infinity;
    let lastId = ''; // rows come in id order
    const stream = client.query(
      copyTo(`COPY (SELECT user_id, item_id, kind, value, (extract(epoch FROM occurred_at) * 1000)::bigint, id
                    FROM interactions ORDER BY id) TO STDOUT`),
    );
    for await (const line of readline.createInterface({ input: stream, crlfDelay: Infinity })) {
      if (!line) continue;
      const [u, i, kind, value, at, id] = line.split('\t');
      const user = dense(userDense, userInternal, Number(u));
      const item = dense(itemDense, itemInternal, Number(i));
      const v = Number(value);
      count++;
      const t = Number(at);
      if (t > latest) latest = t;
      lastId = id;
      if (kind === 'RATING') {
        rat.rows.push(user);
        rat.cols.push(item);
        rat.values.push(v);
        if (v < opts.minRating) continue;
      }
      pos.rows.push(user);
      pos.cols.push(item);
    }
    const externalIds = async (table: 'users' | 'items', internal: number[]) => {
      const { rows } = await client.query<{ id: number; external_id: string }>(
        `SELECT id, external_id FROM ${table} WHERE id = ANY($1::int[])`,
        [internal],
      );
      const byId = new Map(rows.map((r) => [r.id, r.external_id]));
      return internal.map((id) => byId.get(id)!);
    };
    const userIds = await externalIds('users', userInternal);
    const itemIds = await externalIds('items', itemInternal);
    await client.query('COMMIT');
    return {
      userIds,
      itemIds,
      implicit: csrFromTriples(userIds.length, itemIds.length, pos.rows, pos.cols),
      ratings: csrFromTriples(userIds.length, itemIds.length, rat.rows, rat.cols, rat.values),
      interactionCount: count,
      latestAt: count > 0 ? new Date(latest) : null,
      maxInteractionId: count > 0 ? BigInt(lastId) : null,
    };
  } finally {
    await client.end();
  }
}
