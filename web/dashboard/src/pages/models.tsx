import { useState } from 'preact/hooks';
import { request, useQuery, type ApiError } from '../api';
import { Badge, Card, ErrorBox, Loading } from '../components';
import { fmt, fmtBytes, fmtInt, fmtSeconds, fmtTime, metric, metricEntries } from '../format';
import { graphql, type ResultOf } from '../graphql';
import { href, navigate, type Route } from '../router';
import { useIsAdmin } from '../viewer';
import { Delta } from './overview';

const VersionsQuery = graphql(`
  query ModelVersions {
    modelVersions(first: 100) {
      id
      kind
      name
      active
      activatedAt
      createdAt
      dataLatestAt
      interactionCount
      trainingSeconds
      weightsBytes
      metrics
      hyperparameters
    }
  }
`);
type Version = ResultOf<typeof VersionsQuery>['modelVersions'][number];

const ActivateMutation = graphql(`
  mutation Activate($id: Int!) {
    activateModelVersion(id: $id) {
      id
      active
    }
  }
`);

/** Every version with its data snapshot and metrics; activate / roll back (admin); compare two. */
export function ModelsPage(props: { route: Route }) {
  const { data, error, reload } = useQuery(VersionsQuery, {});
  const admin = useIsAdmin();
  const [busy, setBusy] = useState<number | null>(null);
  const [actionError, setActionError] = useState<ApiError | undefined>();
  const compare = (props.route.query.get('compare') ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const focus = Number(props.route.path[1]);
  if (!data) return error ? <ErrorBox error={error} /> : <Loading />;
  const versions = data.modelVersions;
  const activeCollab = versions.find((v) => v.active && v.kind !== 'CONV_AE');

  const activate = (v: Version) => {
    setBusy(v.id);
    setActionError(undefined);
    request(ActivateMutation, { id: v.id }).then(
      () => {
        setBusy(null);
        reload();
      },
      (e: ApiError) => {
        setBusy(null);
        setActionError(e);
      },
    );
  };
  const toggleCompare = (id: number) => {
    const next = compare.includes(id) ? compare.filter((c) => c !== id) : [...compare, id].slice(-2);
    navigate(
      `/models${Number.isInteger(focus) && focus > 0 ? `/${focus}` : ''}${next.length ? `?compare=${next.join(',')}` : ''}`,
    );
  };
  const pair = compare.map((id) => versions.find((v) => v.id === id)).filter((v): v is Version => !!v);

  return (
    <div class="stack">
      <ErrorBox error={error ?? actionError} />
      {pair.length === 2 && <Comparison a={pair[0]} b={pair[1]} />}
      <Card
        title={`Versions (${versions.length})`}
        testid="versions"
        actions={<span class="muted">Tick two versions to compare them side by side.</span>}
      >
        {versions.length === 0 ? (
          <p class="muted">No version yet: train one on the Training page.</p>
        ) : (
          <table class="versions">
            <thead>
              <tr>
                <th title="compare">⇆</th>
                <th>Version</th>
                <th>Kind</th>
                <th>Data snapshot</th>
                <th class="num">NDCG@100</th>
                <th class="num">Recall@20</th>
                <th class="num">vs. active then</th>
                <th class="num">Training</th>
                <th>Status</th>
                {admin && <th />}
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => {
                const ndcg = metric(v.metrics, 'validation', 'ndcg@100');
                const base = metric(v.metrics, 'baseline', 'ndcg@100');
                const baseId = metric(v.metrics, 'baseline', 'versionId');
                const older = activeCollab && v.kind !== 'CONV_AE' && v.id < activeCollab.id;
                return (
                  <tr key={v.id} class={v.id === focus ? 'focus' : ''} data-version={v.id}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`compare version ${v.id}`}
                        checked={compare.includes(v.id)}
                        onChange={() => toggleCompare(v.id)}
                      />
                    </td>
                    <td>
                      <a href={href('models', v.id)}>#{v.id}</a> <span class="muted small">{v.name}</span>
                    </td>
                    <td>{v.kind}</td>
                    <td>
                      {fmtInt(v.interactionCount)} interactions
                      <div class="muted small">up to {fmtTime(v.dataLatestAt)}</div>
                    </td>
                    <td class="num">{fmt(ndcg)}</td>
                    <td class="num">{fmt(metric(v.metrics, 'validation', 'recall@20'))}</td>
                    <td class="num">
                      {ndcg !== null && base !== null ? (
                        <>
                          <Delta value={ndcg - base} />
                          <div class="muted small">
                            #{baseId}: {fmt(base)}
                          </div>
                        </>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                    <td class="num">{fmtSeconds(v.trainingSeconds)}</td>
                    <td>
                      {v.active ? (
                        <Badge kind="ok">active</Badge>
                      ) : (
                        <span class="muted">{v.activatedAt ? `was active ${fmtTime(v.activatedAt)}` : ''}</span>
                      )}
                    </td>
                    {admin && (
                      <td>
                        {!v.active && (
                          <button class={older ? 'warn' : ''} disabled={busy !== null} onClick={() => activate(v)}>
                            {busy === v.id ? 'Loading…' : older ? 'Roll back' : 'Activate'}
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
      {Number.isInteger(focus) && versions.find((v) => v.id === focus) && (
        <Details v={versions.find((v) => v.id === focus)!} />
      )}
    </div>
  );
}

function Details(props: { v: Version }) {
  const v = props.v;
  return (
    <Card title={`Version #${v.id} · ${v.name}`} testid="version-details">
      <div class="columns">
        <dl class="facts">
          <dt>Kind</dt>
          <dd>{v.kind}</dd>
          <dt>Created</dt>
          <dd>{fmtTime(v.createdAt)}</dd>
          <dt>Weights</dt>
          <dd>{fmtBytes(v.weightsBytes)}</dd>
          {metricEntries(v.metrics).map(([k, val]) => (
            <>
              <dt>{k}</dt>
              <dd>{fmt(val)}</dd>
            </>
          ))}
        </dl>
        <pre class="json">{JSON.stringify(v.hyperparameters, null, 2)}</pre>
      </div>
    </Card>
  );
}

/** Two versions side by side: every metric of every split, the snapshot and the settings. */
function Comparison(props: { a: Version; b: Version }) {
  const { a, b } = props;
  const splits = [...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])];
  const rows: { label: string; a: string; b: string; delta?: number }[] = [
    { label: 'Kind', a: a.kind, b: b.kind },
    { label: 'Interactions', a: fmtInt(a.interactionCount), b: fmtInt(b.interactionCount) },
    { label: 'Data up to', a: fmtTime(a.dataLatestAt), b: fmtTime(b.dataLatestAt) },
    { label: 'Training time', a: fmtSeconds(a.trainingSeconds), b: fmtSeconds(b.trainingSeconds) },
    { label: 'Weights', a: fmtBytes(a.weightsBytes), b: fmtBytes(b.weightsBytes) },
  ];
  for (const split of splits) {
    const names = [
      ...new Set([...metricEntries(a.metrics, split), ...metricEntries(b.metrics, split)].map(([k]) => k)),
    ];
    for (const name of names) {
      const va = metric(a.metrics, split, name);
      const vb = metric(b.metrics, split, name);
      const integer = name === 'users' || name === 'versionId';
      rows.push({
        label: `${split} · ${name}`,
        a: integer ? fmtInt(va) : fmt(va),
        b: integer ? fmtInt(vb) : fmt(vb),
        delta: !integer && va !== null && vb !== null ? vb - va : undefined,
      });
    }
  }
  const keys = [...new Set([...Object.keys(a.hyperparameters), ...Object.keys(b.hyperparameters)])].filter(
    (k) => k !== 'selection',
  );
  for (const k of keys)
    rows.push({ label: `setting · ${k}`, a: show(a.hyperparameters[k]), b: show(b.hyperparameters[k]) });
  return (
    <Card title={`Comparison: #${a.id} and #${b.id}`} testid="comparison">
      <table class="compare">
        <thead>
          <tr>
            <th />
            <th>
              #{a.id} {a.name}
            </th>
            <th>
              #{b.id} {b.name}
            </th>
            <th class="num">
              #{b.id} − #{a.id}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.label} class={r.a !== r.b ? 'differs' : ''}>
              <th>{r.label}</th>
              <td>{r.a}</td>
              <td>{r.b}</td>
              <td class="num">{r.delta !== undefined ? <Delta value={r.delta} /> : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

const show = (v: unknown) =>
  v === undefined ? '—' : typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : JSON.stringify(v);
