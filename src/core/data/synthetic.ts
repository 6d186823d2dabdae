/**
 * Synthetic interaction data with a known structure, for scale benchmarks and tests at sizes no
 * public data set has (10⁵ items, 10⁷ interactions):
 *
 * - **Items** belong to `clusters` taste clusters (e.g. sub-genres), each cluster to one of
 *   `categories` categories (its label). Item popularity follows a power law: the item of global
 *   popularity rank r (1-based, a random permutation of the ids) has weight r^−`popularityExponent`.
 * - **Users** have a taste: 1–3 favourite clusters with Dirichlet(1) weights, and an activity level
 *   drawn from a log-normal and scaled so that the interactions add up to `interactions` (each user
 *   at least `minPerUser`, at most the catalog).
 * - **Interactions**: for each of a user's draws, with probability `noise` an item by global
 *   popularity, else a favourite cluster by the user's weights and an item of that cluster by its
 *   popularity; drawn without replacement (repeats redrawn). So popularity explains part of the
 *   data and the clusters the rest: a model that learns co-occurrence beats popularity on it.
 *
 * Sampling is O(interactions · log items) with cumulative weight tables and no per-user work over
 * the catalog, so 10⁷ interactions take seconds. Deterministic for a seed.
 */
import { Random } from './random.js';

export interface SyntheticOptions {
  users: number;
  items: number;
  /** Total interactions (distinct user–item pairs); at most users × items. */
  interactions: number;
  seed?: number;
  /** Category labels (default 20). */
  categories?: number;
  /** Taste clusters (default: categories × 8, but at least 50 items per cluster and one cluster per category). */
  clusters?: number;
  /** Power-law exponent of item popularity by rank (default 1). */
  popularityExponent?: number;
  /** Share of draws by global popularity instead of the user's clusters (default 0.2). */
  noise?: number;
  /** Interactions of the least active user (default 5, at most the catalog). */
  minPerUser?: number;
}

export interface SyntheticData {
  /** Category of each item, in [0, categories). */
  itemCategory: Int32Array;
  /** Taste cluster of each item, in [0, clusters). */
  itemCluster: Int32Array;
  /** Popularity weight of each item (r^−exponent of its rank). */
  itemWeight: Float64Array;
  /** Each user's interactions: items of user u at userItems[userStart[u] .. userStart[u + 1]), in draw order. */
  userStart: Int32Array;
  userItems: Int32Array;
  /** Affinity of each interaction in (0, 1]: 1 for a favourite cluster's item, lower for a noise draw. */
  affinity: Float32Array;
  /** Each user's favourite clusters (up to 3). */
  userClusters: Int32Array[];
}

/** Samples indices in proportion to non-negative weights: binary search in the cumulative sums. */
class Sampler {
  private readonly cumulative: Float64Array;

  constructor(
    weights: ArrayLike<number>,
    private readonly ids?: Int32Array,
  ) {
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) this.cumulative[i] = sum += weights[i];
  }

  get size(): number {
    return this.cumulative.length;
  }

  draw(rng: Random): number {
    const c = this.cumulative;
    const target = rng.uniform() * c[c.length - 1];
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return this.ids ? this.ids[lo] : lo;
  }
}

function checkOptions(o: Required<SyntheticOptions>): void {
  const positiveInt = (name: keyof SyntheticOptions) => {
    const v = o[name] as number;
    if (!Number.isInteger(v) || v < 1) throw new Error(`synthetic data: ${name} must be a positive integer, got ${v}`);
  };
  (['users', 'items', 'interactions', 'categories', 'clusters', 'minPerUser'] as const).forEach(positiveInt);
  if (!Number.isInteger(o.seed)) throw new Error(`synthetic data: seed must be an integer, got ${o.seed}`);
  if (o.interactions > o.users * o.items) throw new Error(`synthetic data: ${o.interactions} interactions do not fit ${o.users} users × ${o.items} items`);
  if (o.users * Math.min(o.minPerUser, o.items) > o.interactions) {
    throw new Error(`synthetic data: ${o.users} users × at least ${o.minPerUser} interactions exceed ${o.interactions}; lower --min-per-user or raise --interactions`);
  }
  if (!(o.popularityExponent >= 0)) throw new Error(`synthetic data: popularityExponent must be ≥ 0, got ${o.popularityExponent}`);
  if (!(o.noise >= 0 && o.noise <= 1)) throw new Error(`synthetic data: noise must be in [0, 1], got ${o.noise}`);
}

/** Generates a data set (see the module comment). */
export function generateSynthetic(options: SyntheticOptions): SyntheticData {
  const categories = options.categories ?? 20;
  const o: Required<SyntheticOptions> = {
    seed: 1,
    categories,
    clusters: Math.min(options.items, Math.max(categories, Math.min(categories * 8, Math.floor(options.items / 50)))),
    popularityExponent: 1,
    noise: 0.2,
    minPerUser: 5,
    ...options,
  };
  checkOptions(o);
  const rng = new Random(o.seed);
  const { users: U, items: I, clusters: K } = o;

  // Items: popularity rank (a permutation), cluster, the cluster's category.
  const rank = rng.permutation(I);
  const itemWeight = new Float64Array(I);
  for (let i = 0; i < I; i++) itemWeight[i] = Math.pow(rank[i] + 1, -o.popularityExponent);
  const clusterCategory = Int32Array.from({ length: K }, (_, k) => k % o.categories);
  const itemCluster = new Int32Array(I);
  for (let i = 0; i < I; i++) itemCluster[i] = i < K ? i : rng.int(K); // every cluster has an item
  const itemCategory = Int32Array.from(itemCluster, (k) => clusterCategory[k]);
  const members: number[][] = Array.from({ length: K }, () => []);
  for (let i = 0; i < I; i++) members[itemCluster[i]].push(i);
  const inCluster = members.map((ids) => new Sampler(Float64Array.from(ids, (i) => itemWeight[i]), Int32Array.from(ids)));
  const global = new Sampler(itemWeight);

  // Users: activity (log-normal, scaled to the total, each within [minPerUser, items]).
  const minPer = Math.min(o.minPerUser, I);
  const raw = Float64Array.from({ length: U }, () => Math.exp(rng.normal(0, 1)));
  const counts = new Int32Array(U);
  const spare = o.interactions - U * minPer;
  const rawSum = raw.reduce((a, b) => a + b, 0);
  for (let u = 0; u < U; u++) {
    const extra = Math.min(I - minPer, Math.floor((raw[u] / rawSum) * spare));
    counts[u] = minPer + extra;
  }
  let left = o.interactions - counts.reduce((a, b) => a + b, 0);
  // Rounding (and users capped at the catalog) leave a remainder: one more each, round robin.
  for (let u = 0; left > 0; u = (u + 1) % U) {
    if (counts[u] < I) {
      counts[u]++;
      left--;
    }
  }

  const userStart = new Int32Array(U + 1);
  for (let u = 0; u < U; u++) userStart[u + 1] = userStart[u] + counts[u];
  const userItems = new Int32Array(o.interactions);
  const affinity = new Float32Array(o.interactions);
  const userClusters: Int32Array[] = [];
  const taken = new Uint8Array(I);
  for (let u = 0; u < U; u++) {
    const favourites = Int32Array.from({ length: 1 + rng.int(3) }, () => rng.int(K));
    userClusters.push(favourites);
    const taste = new Sampler(Float64Array.from(favourites, () => -Math.log(1 - rng.uniform()))); // Dirichlet(1) up to scale
    const start = userStart[u];
    const n = counts[u];
    let got = 0;
    for (let attempts = 0; got < n; attempts++) {
      // Past 20 draws per slot the user's clusters are exhausted: fill by global popularity, then in order.
      const noisy = attempts > 20 * n || rng.uniform() < o.noise;
      let item = noisy ? global.draw(rng) : inCluster[favourites[taste.draw(rng)]].draw(rng);
      if (attempts > 40 * n) for (item = 0; taken[item]; item++);
      if (taken[item]) continue;
      taken[item] = 1;
      userItems[start + got] = item;
      affinity[start + got] = noisy ? (favourites.includes(itemCluster[item]) ? 1 : 0.25) : 1;
      got++;
    }
    for (let k = start; k < start + n; k++) taken[userItems[k]] = 0;
  }
  return { itemCategory, itemCluster, itemWeight, userStart, userItems, affinity, userClusters };
}

/**
 * A 1–5 star rating (half stars) for an interaction of the given affinity: a favourite cluster's
 * item 3.5–5 (a positive at the usual 3.5 threshold), any other 1–5 (four in nine positive).
 */
export function syntheticRating(affinity: number, rng: Random): number {
  return affinity >= 1 ? 3.5 + rng.int(4) * 0.5 : 1 + rng.int(9) * 0.5;
}
