import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ApiError } from './api';

export function Card(props: {
  title?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
  actions?: ComponentChildren;
  testid?: string;
}) {
  return (
    <section class={`card ${props.class ?? ''}`} data-testid={props.testid}>
      {(props.title || props.actions) && (
        <header class="card-head">
          <h2>{props.title}</h2>
          {props.actions && <div class="card-actions">{props.actions}</div>}
        </header>
      )}
      {props.children}
    </section>
  );
}

export function Stat(props: { label: string; value: ComponentChildren; hint?: ComponentChildren; testid?: string }) {
  return (
    <div class="stat" data-testid={props.testid}>
      <div class="stat-label">{props.label}</div>
      <div class="stat-value">{props.value}</div>
      {props.hint && <div class="stat-hint">{props.hint}</div>}
    </div>
  );
}

/** A GraphQL error as a readable line with its code; NO_ACTIVE_MODEL gets a hint. */
export function ErrorBox(props: { error: ApiError | Error | undefined }) {
  if (!props.error) return null;
  const code = 'code' in props.error ? (props.error as ApiError).code : undefined;
  return (
    <div class="error" role="alert">
      {code && <span class="code">{code}</span>} {props.error.message}
      {code === 'NO_ACTIVE_MODEL' && (
        <div class="muted">Train a version on the Training page (admin key), or `npm run train -- --activate`.</div>
      )}
    </div>
  );
}

export const Loading = () => <div class="muted loading">Loading…</div>;

export function Badge(props: {
  kind: 'ok' | 'warn' | 'bad' | 'info' | 'plain';
  children: ComponentChildren;
  title?: string;
}) {
  return (
    <span class={`badge badge-${props.kind}`} title={props.title}>
      {props.children}
    </span>
  );
}

export const STATUS_BADGE: Record<string, 'ok' | 'warn' | 'bad' | 'info' | 'plain'> = {
  SUCCEEDED: 'ok',
  RUNNING: 'info',
  QUEUED: 'plain',
  FAILED: 'bad',
  CANCELLED: 'warn',
};

const compactFormat = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 3 });
/** Axis labels: 100K rather than 100,000; small values as they are. */
const compact = (v: number) => (Math.abs(v) >= 10_000 ? compactFormat.format(v) : String(Math.round(v * 1e4) / 1e4));

export interface Series {
  label: string;
  color: string;
  /** Right-hand axis (a second scale). */
  right?: boolean;
  bars?: boolean;
  digits?: number;
}

/**
 * A line (or bar) chart on uPlot: x values and one array per series (null = gap). Redraws in
 * place when the data changes (a training curve growing), resizes with its container.
 */
export function LineChart(props: {
  x: number[];
  ys: (number | null)[][];
  series: Series[];
  height?: number;
  xLabel?: string;
  time?: boolean;
  testid?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const shape = `${props.series.map((s) => `${s.label}${s.right ? 'R' : ''}${s.bars ? 'B' : ''}`).join('|')}|${props.time ? 't' : ''}`;
  useEffect(() => {
    const el = box.current!;
    const hasRight = props.series.some((s) => s.right);
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height: props.height ?? 220,
      scales: { x: { time: !!props.time }, y: {}, ...(hasRight ? { r: {} } : {}) },
      legend: { show: props.series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { label: props.xLabel, stroke: '#5b6475', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#d9dde5' } },
        {
          stroke: '#5b6475',
          grid: { stroke: '#eef0f4' },
          ticks: { stroke: '#d9dde5' },
          size: 64,
          values: (_u: uPlot, ticks: number[]) => ticks.map(compact),
        },
        ...(hasRight
          ? [
              {
                scale: 'r',
                side: 1 as const,
                stroke: '#5b6475',
                grid: { show: false },
                size: 64,
                values: (_u: uPlot, ticks: number[]) => ticks.map(compact),
              },
            ]
          : []),
      ],
      series: [
        { label: props.xLabel ?? 'x' },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          scale: s.right ? 'r' : 'y',
          fill: s.bars ? `${s.color}99` : undefined,
          paths: s.bars ? uPlot.paths.bars!({ size: [0.8, 40] }) : undefined,
          points: { show: !s.bars, size: 5 },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : v.toFixed(s.digits ?? 4)),
          spanGaps: true,
        })),
      ],
    };
    chart.current = new uPlot(opts, [props.x, ...props.ys] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() =>
      chart.current?.setSize({ width: Math.max(el.clientWidth, 200), height: props.height ?? 220 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.current?.destroy();
      chart.current = null;
    };
    // Rebuilt only when the series change; data updates go through setData below.
  }, [shape, props.height]);
  useEffect(() => {
    chart.current?.setData([props.x, ...props.ys] as uPlot.AlignedData);
  }, [props.x, props.ys]);
  return <div class="chart" ref={box} data-testid={props.testid} data-points={props.x.length} />;
}
