/**
 * Hyperparameter grids for model selection on validation data: parsing a compact grid spec,
 * expanding it to its cartesian product, and picking the best configuration.
 *
 * Spec syntax (e.g. an `evaluate --grid` value): axes separated by `;`, each `name=v1,v2,…`;
 * values are numbers (`1e-4`, `0.5`, `200`) or booleans (`true` / `false`):
 *
 *   weightDecay=2e-5,1e-4;dropout=0.5,0.6   →   4 configurations
 */

/** One value of a grid axis. */
export type GridValue = number | boolean;

/** One configuration: a value per axis, in the order the axes were given. */
export type GridConfig = Record<string, GridValue>;

/** One axis of a grid: a hyperparameter name and the values to try (in the given order). */
export interface GridAxis {
  name: string;
  values: GridValue[];
}

function parseValue(axis: string, raw: string): GridValue {
  const s = raw.trim();
  if (s === 'true') return true;
  if (s === 'false') return false;
  const x = Number(s);
  if (s === '' || !Number.isFinite(x))
    throw new Error(`grid: axis "${axis}": expected a number, true or false, got ${JSON.stringify(raw)}`);
  return x;
}

/**
 * Parses a grid spec (see the module doc).
 * @param spec e.g. `"weightDecay=2e-5,1e-4;dropout=0.5"`; empty axes (`;;`) are ignored
 * @param allowed when given, the only accepted axis names (the error lists them)
 * @returns the axes in the order given; throws on an unknown or repeated axis, an axis without
 *   values or a value that is neither a finite number nor a boolean
 */
export function parseGrid(spec: string, allowed?: readonly string[]): GridAxis[] {
  const axes: GridAxis[] = [];
  for (const part of spec.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`grid: expected "name=v1,v2,…", got ${JSON.stringify(part.trim())}`);
    const name = part.slice(0, eq).trim();
    if (name === '') throw new Error(`grid: missing axis name in ${JSON.stringify(part.trim())}`);
    if (allowed && !allowed.includes(name))
      throw new Error(`grid: unknown axis "${name}" (allowed: ${allowed.join(', ')})`);
    if (axes.some((a) => a.name === name)) throw new Error(`grid: axis "${name}" given twice`);
    const values = part
      .slice(eq + 1)
      .split(',')
      .map((v) => parseValue(name, v));
    axes.push({ name, values });
  }
  return axes;
}

/**
 * The cartesian product of the axes, the LAST axis varying fastest. No axes → one empty
 * configuration (the defaults alone).
 */
export function expandGrid(axes: readonly GridAxis[]): GridConfig[] {
  let configs: GridConfig[] = [{}];
  for (const axis of axes) configs = configs.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.name]: v })));
  return configs;
}

/** Short label of a configuration, e.g. `weightDecay=0.0001 dropout=0.5` (`defaults` when empty). */
export function configLabel(config: GridConfig): string {
  const parts = Object.entries(config).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length > 0 ? parts.join(' ') : 'defaults';
}

/**
 * Index of the best score: the highest (or, with `lowerIsBetter`, the lowest); ties keep the
 * first; NaN scores never win. Returns -1 when there is no finite score.
 */
export function bestIndex(scores: readonly number[], lowerIsBetter = false): number {
  let best = -1;
  for (let k = 0; k < scores.length; k++) {
    const s = scores[k];
    if (Number.isNaN(s)) continue;
    if (best < 0 || (lowerIsBetter ? s < scores[best] : s > scores[best])) best = k;
  }
  return best;
}
