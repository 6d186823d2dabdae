/**
 * Writes a synthetic data set (src/core/data/synthetic.ts) as a folder the importer reads with
 * `--format movielens-latest`: `ratings.csv` (userId,movieId,rating,timestamp) and `movies.csv`
 * (movieId,title,genres: the item's category as its genre), plus a README.txt that records the
 * parameters. `npm run data -- synth` (scripts/data.ts).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import {
  generateSynthetic,
  syntheticRating,
  type SyntheticData,
  type SyntheticOptions,
} from '../core/data/synthetic.js';
import { Random } from '../core/data/random.js';

/** First interaction time (2020-01-01T00:00:00Z, unix seconds); each user's times increase from a random start. */
const START = 1_577_836_800;
const YEAR = 365 * 24 * 3600;

export interface WrittenSynthetic {
  dir: string;
  data: SyntheticData;
  seconds: number;
}

/** Lines are written in chunks of this many characters. */
const CHUNK = 1 << 20;

async function writeLines(file: string, header: string, count: number, line: (k: number) => string): Promise<void> {
  const out = createWriteStream(file, { encoding: 'utf8' });
  const closed = once(out, 'close');
  let buffer = header + '\n';
  for (let k = 0; k < count; k++) {
    buffer += line(k) + '\n';
    if (buffer.length >= CHUNK) {
      if (!out.write(buffer)) await once(out, 'drain');
      buffer = '';
    }
  }
  out.end(buffer);
  await closed;
}

/** Generates a data set and writes it into `dir` (created if missing; existing files replaced). */
export async function writeSynthetic(dir: string, options: SyntheticOptions): Promise<WrittenSynthetic> {
  const t0 = performance.now();
  const data = generateSynthetic(options);
  await mkdir(dir, { recursive: true });
  const rng = new Random((options.seed ?? 1) + 7919);
  const { userStart, userItems, affinity, itemCategory } = data;
  const users = userStart.length - 1;
  const userOf = new Int32Array(userItems.length);
  const time = new Float64Array(userItems.length);
  for (let u = 0; u < users; u++) {
    let t = START + Math.floor(rng.uniform() * YEAR);
    for (let k = userStart[u]; k < userStart[u + 1]; k++) {
      userOf[k] = u;
      time[k] = t;
      t += 1 + Math.floor(rng.uniform() * 3600);
    }
  }
  await writeLines(path.join(dir, 'ratings.csv'), 'userId,movieId,rating,timestamp', userItems.length, (k) => {
    return `${userOf[k] + 1},${userItems[k] + 1},${syntheticRating(affinity[k], rng).toFixed(1)},${time[k]}`;
  });
  await writeLines(path.join(dir, 'movies.csv'), 'movieId,title,genres', itemCategory.length, (i) => {
    return `${i + 1},Item ${i + 1} (cluster ${data.itemCluster[i] + 1}),Category ${itemCategory[i] + 1}`;
  });
  await writeFile(
    path.join(dir, 'README.txt'),
    [
      'Synthetic interactions written by `npm run data -- synth` (src/core/data/synthetic.ts).',
      `Parameters: ${JSON.stringify({ ...options })}`,
      `Users ${users}, items ${itemCategory.length}, interactions ${userItems.length}.`,
      'Import: npm run import -- <this folder> --format movielens-latest',
      "Ratings: 3.5-5 for an item of one of the user's favourite clusters, 1-5 otherwise.",
      '',
    ].join('\n'),
  );
  return { dir, data, seconds: (performance.now() - t0) / 1000 };
}
