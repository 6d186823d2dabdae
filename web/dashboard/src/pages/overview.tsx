import { useQuery } from '../api';
import { Badge, Card, ErrorBox, LineChart, Loading, STATUS_BADGE, Stat } from '../components';
import { fmt, fmtInt, fmtSeconds, fmtTime, metric } from '../format';
import { graphql } from '../graphql';
import { href } from '../router';

const OverviewQuery = graphql(`
  query Overview {
    catalogStats {
      users
      items
      interactions
    }
    ingestRate(hours: 24) {
      hour
      interactions
    }
    servingStatus {
      warm
      search
      populationSize
      loadSeconds
      backend
      modelVersion {
        id
      }
    }
    modelVersions(first: 100) {
      id
      kind
      name
      active
      activatedAt
      metrics
      interactionCount
    }
    running: trainingRuns(first: 10, status: RUNNING) {
      id
      kind
      status
      progress
      stage
      epoch
      epochs
      startedAt
    }
    queued: trainingRuns(first: 10, status: QUEUED) {
      id
      kind
      status
      progress
      stage
      epoch
      epochs
      createdAt
    }
    latest: trainingRuns(first: 1) {
      id
      kind
      status
      decision
      finishedAt
    }
  }
`);

/** What the service holds and serves now; refreshed every 10 s. */
export function OverviewPage() {
  const { data, error } = useQuery(OverviewQuery, {}, { pollMs: 10_000 });
  if (!data) return error ? <ErrorBox error={error} /> : <Loading />;
  const { catalogStats: stats, ingestRate, servingStatus: serving } = data;
  const active = data.modelVersions.filter((v) => v.active);
  const inFlight = [...data.running, ...data.queued];
  const last24 = ingestRate.reduce((s, b) => s + b.interactions, 0);
  return (
    <div class="grid">
      <ErrorBox error={error} />
      <div class="stats span-3">
        <Stat label="Users" value={fmtInt(stats.users)} testid="stat-users" />
        <Stat label="Items" value={fmtInt(stats.items)} testid="stat-items" />
        <Stat label="Interactions" value={fmtInt(stats.interactions)} testid="stat-interactions" />
        <Stat label="Stored in the last 24 h" value={fmtInt(last24)} testid="stat-ingest" />
      </div>
      <Card title="Ingest rate · interactions stored per hour, last 24 h" class="span-2" testid="ingest">
        <LineChart
          x={ingestRate.map((b) => Date.parse(b.hour) / 1000)}
          ys={[ingestRate.map((b) => b.interactions)]}
          series={[{ label: 'interactions', color: '#3b6fd8', bars: true, digits: 0 }]}
          time
          height={200}
          testid="ingest-chart"
        />
      </Card>
      <Card title="Serving" testid="serving">
        {serving.modelVersion ? (
          <dl class="facts">
            <dt>Version</dt>
            <dd>
              <a href={href('models', serving.modelVersion.id)}>#{serving.modelVersion.id}</a>{' '}
              {serving.warm ? <Badge kind="ok">warm</Badge> : <Badge kind="warn">warming up</Badge>}
            </dd>
            <dt>Search</dt>
            <dd>{serving.search ?? '—'}</dd>
            <dt>Users scored</dt>
            <dd>{fmtInt(serving.populationSize)}</dd>
            <dt>Load time</dt>
            <dd>{fmtSeconds(serving.loadSeconds)}</dd>
            <dt>Backend</dt>
            <dd>{serving.backend}</dd>
          </dl>
        ) : (
          <p class="muted">No model version is active: recommendations fall back to popular items.</p>
        )}
      </Card>
      <Card title="Active versions" class="span-2" testid="active-versions">
        {active.length === 0 ? (
          <p class="muted">None yet.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Slot</th>
                <th>Version</th>
                <th>Kind</th>
                <th class="num">NDCG@100</th>
                <th class="num">Recall@20</th>
                <th class="num">vs. previous</th>
                <th>Activated</th>
              </tr>
            </thead>
            <tbody>
              {active.map((v) => {
                const ndcg = metric(v.metrics, 'validation', 'ndcg@100');
                const base = metric(v.metrics, 'baseline', 'ndcg@100');
                return (
                  <tr key={v.id}>
                    <td>{v.kind === 'CONV_AE' ? 'visual' : 'recommendations'}</td>
                    <td>
                      <a href={href('models', v.id)}>
                        #{v.id} {v.name}
                      </a>
                    </td>
                    <td>{v.kind}</td>
                    <td class="num">{v.kind === 'CONV_AE' ? '—' : fmt(ndcg)}</td>
                    <td class="num">{fmt(metric(v.metrics, 'validation', 'recall@20'))}</td>
                    <td class="num">{ndcg !== null && base !== null ? <Delta value={ndcg - base} /> : '—'}</td>
                    <td>{fmtTime(v.activatedAt)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Training" testid="training-in-flight">
        {inFlight.length === 0 ? (
          <p class="muted">No run in flight.</p>
        ) : (
          <ul class="plain">
            {inFlight.map((r) => (
              <li key={r.id}>
                <a href={href('training', r.id)}>
                  Run #{r.id} {r.kind}
                </a>{' '}
                <Badge kind={STATUS_BADGE[r.status]}>{r.status}</Badge>
                <progress value={r.progress} max={1} /> <span class="muted">{r.stage ?? ''}</span>
              </li>
            ))}
          </ul>
        )}
        {data.latest[0] && inFlight.length === 0 && (
          <p>
            Last run: <a href={href('training', data.latest[0].id)}>#{data.latest[0].id}</a> {data.latest[0].kind}{' '}
            <Badge kind={STATUS_BADGE[data.latest[0].status]}>{data.latest[0].status}</Badge>
            <br />
            <span class="muted">{data.latest[0].decision ?? ''}</span>
          </p>
        )}
      </Card>
    </div>
  );
}

export const Delta = (props: { value: number }) => (
  <span class={props.value > 0 ? 'pos' : props.value < 0 ? 'neg' : ''}>
    {props.value > 0 ? '+' : ''}
    {props.value.toFixed(4)}
  </span>
);
