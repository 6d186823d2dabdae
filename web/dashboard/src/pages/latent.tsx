import { useMemo, useState } from 'preact/hooks';
import { useQuery } from '../api';
import { Card, ErrorBox, Loading } from '../components';
import { fmt } from '../format';
import { graphql } from '../graphql';
import { href, navigate, type Route } from '../router';
import { Scatter, type ScatterData } from '../scatter';

const MapQuery = graphql(`
  query LatentMap($of: LatentMapOf!, $limit: Int!) {
    latentMap(of: $of, limit: $limit) {
      modelVersionId
      of
      method
      explainedVariance
      total
      ids
      x
      y
      labels
      categories
      category
      anomalyPercentile
    }
  }
`);

const NeighboursQuery = graphql(`
  query Neighbours($itemId: ID!) {
    item(id: $itemId) {
      id
      title
      categories
    }
    similarItems(itemId: $itemId, limit: 10) {
      score
      item {
        id
        title
        categories
      }
    }
  }
`);

/** Categorical colours (Tableau 10) and a grey for items outside the legend. */
const CATEGORY_COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
const OTHER = '#c8ccd4';
/** Anomaly percentile in 10 bands, blue (typical) → red (unusual). */
const ANOMALY_COLORS = [
  '#2c7bb6',
  '#4a98c5',
  '#6eb5d4',
  '#9dd0e0',
  '#c7e6e8',
  '#f3e5b4',
  '#fdc47d',
  '#f99b5b',
  '#e8663f',
  '#d7191c',
];

/** The active version's item or user vectors on their two principal axes. */
export function LatentPage(props: { route: Route }) {
  const of = props.route.query.get('of') === 'users' ? 'USERS' : 'ITEMS';
  const { data, error, loading } = useQuery(MapQuery, { of, limit: 20_000 });
  const [hover, setHover] = useState<{ i: number; x: number; y: number } | null>(null);
  const [picked, setPicked] = useState<number | null>(null);
  const map = data?.latentMap.of === of ? data.latentMap : undefined;

  const scatter = useMemo<ScatterData | null>(() => {
    if (!map) return null;
    if (map.of === 'ITEMS') {
      const palette = [...CATEGORY_COLORS.slice(0, map.categories.length), OTHER];
      const other = palette.length - 1;
      return {
        x: Float32Array.from(map.x),
        y: Float32Array.from(map.y),
        color: Int32Array.from(map.category, (c) => (c < 0 ? other : c)),
        palette,
      };
    }
    return {
      x: Float32Array.from(map.x),
      y: Float32Array.from(map.y),
      color: Int32Array.from(map.anomalyPercentile, (p) => Math.min(9, Math.floor(p / 10))),
      palette: ANOMALY_COLORS,
    };
  }, [map]);
  const indexOf = useMemo(() => new Map(map?.ids.map((id, k) => [id, k]) ?? []), [map]);

  const pickedId = map && picked !== null ? map.ids[picked] : null;
  const neighbours = useQuery(NeighboursQuery, map?.of === 'ITEMS' && pickedId ? { itemId: pickedId } : null);
  const highlight = useMemo(
    () =>
      neighbours.data && map?.of === 'ITEMS'
        ? neighbours.data.similarItems.map((s) => indexOf.get(s.item.id)).filter((k): k is number => k !== undefined)
        : [],
    [neighbours.data, indexOf, map],
  );

  const tabs = (
    <div class="tabs">
      <a href="#/latent" class={of === 'ITEMS' ? 'active' : ''}>
        Items
      </a>
      <a href="#/latent?of=users" class={of === 'USERS' ? 'active' : ''}>
        Users
      </a>
    </div>
  );
  return (
    <div class="grid latent">
      <Card
        class="span-2"
        title={
          map ? (
            <>
              {map.of === 'ITEMS' ? 'Items' : 'Users'} of version #{map.modelVersionId} ·{' '}
              {map.ids.length.toLocaleString('en-US')} points
              {map.total > map.ids.length ? ` of ${map.total.toLocaleString('en-US')}` : ''}
            </>
          ) : (
            'Latent space'
          )
        }
        actions={tabs}
        testid="latent-map"
      >
        <ErrorBox error={error} />
        {!map && loading && <Loading />}
        {scatter && (
          <div class="scatter-wrap">
            <Scatter
              data={scatter}
              highlight={highlight}
              selected={picked}
              onHover={(i, at) => setHover(i === null ? null : { i, ...at })}
              onPick={(i) => {
                setPicked(i);
                if (i !== null && map?.of === 'USERS') navigate(`/users/${encodeURIComponent(map.ids[i])}`);
              }}
              onFirstDraw={(ms) => {
                (window as unknown as { __latentFirstDraw?: number }).__latentFirstDraw = ms;
              }}
            />
            {hover && map && (
              <div
                class="tooltip"
                style={{ left: `${hover.x + 12}px`, top: `${hover.y + 12}px` }}
                data-testid="tooltip"
              >
                {map.of === 'ITEMS' ? (
                  <>
                    <strong>{map.labels[hover.i] || `item ${map.ids[hover.i]}`}</strong>
                    <div class="muted small">
                      id {map.ids[hover.i]}
                      {map.category[hover.i] >= 0 ? ` · ${map.categories[map.category[hover.i]]}` : ''}
                    </div>
                  </>
                ) : (
                  <>
                    <strong>user {map.ids[hover.i]}</strong>
                    <div class="muted small">anomaly percentile {map.anomalyPercentile[hover.i].toFixed(1)}</div>
                  </>
                )}
              </div>
            )}
          </div>
        )}
        {map && (
          <p class="muted small">
            {map.method} of the {map.of === 'ITEMS' ? 'item vectors (decoder weights)' : 'encoded user histories'},
            scaled to unit length; the axes explain {(map.explainedVariance[0] * 100).toFixed(1)} % and{' '}
            {(map.explainedVariance[1] * 100).toFixed(1)} % of the variance. Scroll to zoom, drag to pan,{' '}
            {map.of === 'ITEMS' ? 'click an item for its neighbours.' : 'click a user to open the explorer.'}
          </p>
        )}
      </Card>
      <div class="stack">
        {map && (
          <Card title={map.of === 'ITEMS' ? 'Category' : 'Anomaly percentile'} testid="legend">
            <ul class="legend">
              {map.of === 'ITEMS'
                ? [...map.categories, 'other'].map((c, k) => (
                    <li key={c}>
                      <span
                        class="swatch"
                        style={{ background: k < map.categories.length ? CATEGORY_COLORS[k] : OTHER }}
                      />
                      {c}
                    </li>
                  ))
                : ANOMALY_COLORS.map((c, k) => (
                    <li key={c}>
                      <span class="swatch" style={{ background: c }} />
                      {k * 10}–{k * 10 + 10}
                    </li>
                  ))}
            </ul>
          </Card>
        )}
        {map?.of === 'ITEMS' && (
          <Card title="Neighbours" testid="neighbours">
            {pickedId === null ? (
              <p class="muted">Click a point.</p>
            ) : neighbours.data ? (
              <>
                <p>
                  <a href={href('items', pickedId)}>
                    <strong>{neighbours.data.item.title ?? pickedId}</strong>
                  </a>
                </p>
                <ol class="neighbours">
                  {neighbours.data.similarItems.map((s) => (
                    <li key={s.item.id}>
                      <a href={href('items', s.item.id)}>{s.item.title ?? s.item.id}</a>{' '}
                      <span class="muted small">{fmt(s.score, 3)}</span>
                    </li>
                  ))}
                </ol>
              </>
            ) : (
              <>
                <ErrorBox error={neighbours.error} />
                {!neighbours.error && <Loading />}
              </>
            )}
          </Card>
        )}
      </div>
    </div>
  );
}
