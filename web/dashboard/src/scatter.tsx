import { useEffect, useRef } from 'preact/hooks';

export interface ScatterData {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Colour index of each point into `palette`. */
  color: ArrayLike<number>;
  palette: string[];
}

interface View {
  /** Data → CSS pixels: px = (x - cx) * scale + width / 2. */
  cx: number;
  cy: number;
  scale: number;
}

const POINT = 3;

/** The 1st and 99th percentiles of the values (min and max below 200 values). */
function quantiles(values: ArrayLike<number>, min: number, max: number): [number, number] {
  if (values.length < 200) return [min, max];
  const sorted = Float64Array.from(values).sort();
  return [sorted[Math.floor(sorted.length * 0.01)], sorted[Math.ceil(sorted.length * 0.99) - 1]];
}
const HIGHLIGHT = 7;

/**
 * A canvas scatter plot for tens of thousands of points: one path per colour, redrawn on pan
 * (drag) and zoom (wheel) within an animation frame; hover finds the nearest point through a
 * uniform grid over the data (no per-point DOM). `onFirstDraw` reports when the points are first
 * on screen (the benchmark's time to first render).
 */
export function Scatter(props: {
  data: ScatterData;
  highlight?: number[];
  selected?: number | null;
  onHover?: (index: number | null, at: { x: number; y: number }) => void;
  onPick?: (index: number | null) => void;
  onFirstDraw?: (ms: number) => void;
  height?: number;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const state = useRef({
    view: null as View | null,
    frame: 0,
    drawn: false,
    drag: null as { x: number; y: number; moved: boolean } | null,
  });
  const latest = useRef(props);
  latest.current = props;

  // Uniform grid over the data for nearest-point queries.
  const grid = useRef<{
    minX: number;
    minY: number;
    cell: number;
    cols: number;
    rows: number;
    start: Int32Array;
    items: Int32Array;
  } | null>(null);
  useEffect(() => {
    const { x, y } = props.data;
    const n = x.length;
    let minX = Infinity,
      maxX = -Infinity,
      minY = Infinity,
      maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      if (x[i] < minX) minX = x[i];
      if (x[i] > maxX) maxX = x[i];
      if (y[i] < minY) minY = y[i];
      if (y[i] > maxY) maxY = y[i];
    }
    if (n === 0) {
      minX = minY = -1;
      maxX = maxY = 1;
    }
    const span = Math.max(maxX - minX, maxY - minY, 1e-9);
    const side = Math.max(1, Math.ceil(Math.sqrt(n / 4)));
    const cell = span / side;
    const cols = Math.floor((maxX - minX) / cell) + 1;
    const rows = Math.floor((maxY - minY) / cell) + 1;
    const counts = new Int32Array(cols * rows + 1);
    const cellOf = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = Math.floor((y[i] - minY) / cell) * cols + Math.floor((x[i] - minX) / cell);
      cellOf[i] = c;
      counts[c + 1]++;
    }
    for (let c = 0; c < cols * rows; c++) counts[c + 1] += counts[c];
    const fill = counts.slice(0, cols * rows);
    const items = new Int32Array(n);
    for (let i = 0; i < n; i++) items[fill[cellOf[i]]++] = i;
    grid.current = { minX, minY, cell, cols, rows, start: counts, items };
    // Fit the view to the central 98 % of the points on each axis (a few outliers do not squash
    // the rest into a corner; they are still there when zooming out), with a margin.
    const el = canvas.current!;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || 600;
    const [x0, x1] = quantiles(x, minX, maxX);
    const [y0, y1] = quantiles(y, minY, maxY);
    state.current.view = {
      cx: (x0 + x1) / 2,
      cy: (y0 + y1) / 2,
      scale: 0.9 * Math.min(w / Math.max(x1 - x0, 1e-9), h / Math.max(y1 - y0, 1e-9)),
    };
    state.current.drawn = false;
    schedule();
  }, [props.data]);

  useEffect(() => schedule(), [props.highlight, props.selected]);

  function schedule() {
    if (state.current.frame) return;
    state.current.frame = requestAnimationFrame(() => {
      state.current.frame = 0;
      draw();
    });
  }

  function draw() {
    const el = canvas.current;
    const view = state.current.view;
    if (!el || !view) return;
    const started = performance.now();
    const dpr = devicePixelRatio || 1;
    const w = el.clientWidth;
    const h = el.clientHeight;
    if (el.width !== Math.round(w * dpr) || el.height !== Math.round(h * dpr)) {
      el.width = Math.round(w * dpr);
      el.height = Math.round(h * dpr);
    }
    const ctx = el.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const { x, y, color, palette } = latest.current.data;
    const n = x.length;
    const ox = w / 2 - view.cx * view.scale;
    const oy = h / 2 + view.cy * view.scale;
    const dim = (latest.current.highlight?.length ?? 0) > 0;
    ctx.globalAlpha = dim ? 0.25 : 0.75;
    for (let c = 0; c < palette.length; c++) {
      ctx.fillStyle = palette[c];
      ctx.beginPath();
      for (let i = 0; i < n; i++) {
        if (color[i] !== c) continue;
        const px = x[i] * view.scale + ox;
        const py = oy - y[i] * view.scale;
        if (px < -POINT || py < -POINT || px > w + POINT || py > h + POINT) continue;
        ctx.rect(px - POINT / 2, py - POINT / 2, POINT, POINT);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    const ring = (i: number, stroke: string, r: number) => {
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x[i] * view.scale + ox, oy - y[i] * view.scale, r, 0, Math.PI * 2);
      ctx.stroke();
    };
    for (const i of latest.current.highlight ?? []) ring(i, '#111827', HIGHLIGHT / 2 + 1);
    if (latest.current.selected !== null && latest.current.selected !== undefined)
      ring(latest.current.selected, '#e11d48', HIGHLIGHT);
    el.dataset.drawMs = (performance.now() - started).toFixed(2);
    if (!state.current.drawn) {
      state.current.drawn = true;
      el.dataset.drawn = String(n);
      latest.current.onFirstDraw?.(performance.now());
    }
  }

  /** The point nearest to a CSS-pixel position within 8 px, or null. */
  function nearest(px: number, py: number): number | null {
    const g = grid.current;
    const view = state.current.view;
    const el = canvas.current;
    if (!g || !view || !el) return null;
    const dx = view.cx + (px - el.clientWidth / 2) / view.scale;
    const dy = view.cy - (py - el.clientHeight / 2) / view.scale;
    const radius = 8 / view.scale;
    const { x, y } = latest.current.data;
    let best: number | null = null;
    let bestD = radius * radius;
    const c0 = Math.max(0, Math.floor((dx - radius - g.minX) / g.cell));
    const c1 = Math.min(g.cols - 1, Math.floor((dx + radius - g.minX) / g.cell));
    const r0 = Math.max(0, Math.floor((dy - radius - g.minY) / g.cell));
    const r1 = Math.min(g.rows - 1, Math.floor((dy + radius - g.minY) / g.cell));
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cellIndex = r * g.cols + c;
        for (let k = g.start[cellIndex]; k < g.start[cellIndex + 1]; k++) {
          const i = g.items[k];
          const d = (x[i] - dx) ** 2 + (y[i] - dy) ** 2;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }

  useEffect(() => {
    const el = canvas.current!;
    const pos = (e: MouseEvent) => {
      const r = el.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const view = state.current.view;
      if (!view) return;
      const p = pos(e);
      const factor = Math.exp(-e.deltaY * 0.0015);
      // Keep the data point under the cursor in place.
      const dx = view.cx + (p.x - el.clientWidth / 2) / view.scale;
      const dy = view.cy - (p.y - el.clientHeight / 2) / view.scale;
      view.scale *= factor;
      view.cx = dx - (p.x - el.clientWidth / 2) / view.scale;
      view.cy = dy + (p.y - el.clientHeight / 2) / view.scale;
      schedule();
    };
    const onDown = (e: MouseEvent) => (state.current.drag = { ...pos(e), moved: false });
    const onMove = (e: MouseEvent) => {
      const p = pos(e);
      const drag = state.current.drag;
      const view = state.current.view;
      if (drag && view) {
        if (Math.abs(p.x - drag.x) + Math.abs(p.y - drag.y) > 2) drag.moved = true;
        view.cx -= (p.x - drag.x) / view.scale;
        view.cy += (p.y - drag.y) / view.scale;
        drag.x = p.x;
        drag.y = p.y;
        schedule();
        return;
      }
      latest.current.onHover?.(nearest(p.x, p.y), p);
    };
    const onUp = (e: MouseEvent) => {
      const drag = state.current.drag;
      state.current.drag = null;
      if (drag && !drag.moved) {
        const p = pos(e);
        latest.current.onPick?.(nearest(p.x, p.y));
      }
    };
    const onLeave = () => {
      state.current.drag = null;
      latest.current.onHover?.(null, { x: 0, y: 0 });
    };
    const resize = new ResizeObserver(() => schedule());
    resize.observe(el);
    el.addEventListener('wheel', onWheel, { passive: false });
    el.addEventListener('mousedown', onDown);
    el.addEventListener('mousemove', onMove);
    el.addEventListener('mouseup', onUp);
    el.addEventListener('mouseleave', onLeave);
    return () => {
      resize.disconnect();
      el.removeEventListener('wheel', onWheel);
      el.removeEventListener('mousedown', onDown);
      el.removeEventListener('mousemove', onMove);
      el.removeEventListener('mouseup', onUp);
      el.removeEventListener('mouseleave', onLeave);
      cancelAnimationFrame(state.current.frame);
      state.current.frame = 0;
    };
  }, []);

  return <canvas ref={canvas} class="scatter" data-testid="scatter" aria-label="latent space map" />;
}
