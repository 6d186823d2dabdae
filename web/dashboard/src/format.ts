/** Number formatting shared by the pages. */
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const fmtInt = (n: number | null | undefined) => (n === null || n === undefined ? '—' : integer.format(n));

export const fmt = (n: number | null | undefined, digits = 4) =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);

export const fmtSeconds = (s: number | null | undefined) => {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
};

export const fmtBytes = (b: number) =>
  b < 1024 ? `${b} B` : b < 1024 ** 2 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`;

export const fmtTime = (iso: string | null | undefined) => {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)} UTC`;
};

/** The validation metrics of a version (metrics.validation), as [name, value] pairs. */
export function metricEntries(metrics: Record<string, unknown>, split = 'validation'): [string, number][] {
  const m = metrics[split];
  if (!m || typeof m !== 'object') return [];
  return Object.entries(m as Record<string, unknown>).filter(
    (e): e is [string, number] => typeof e[1] === 'number' && e[0] !== 'versionId',
  );
}

export const metric = (metrics: Record<string, unknown>, split: string, name: string): number | null => {
  const m = metrics[split] as Record<string, unknown> | undefined;
  const v = m?.[name];
  return typeof v === 'number' ? v : null;
};
