import { useState } from 'preact/hooks';
import { useQuery } from '../api';
import { Badge, Card, ErrorBox, Loading } from '../components';
import { fmt, fmtTime } from '../format';
import { graphql, type ResultOf } from '../graphql';
import { href, navigate, type Route } from '../router';
import { ItemPicker } from './items';

const UserQuery = graphql(`
  query UserExplorer($id: ID!) {
    user(id: $id) {
      id createdAt
      anomalyScore { error percentile modelVersionId }
      interactions(first: 100) { nodes { id kind value occurredAt item { id title } } pageInfo { hasNextPage } }
    }
  }
`);

const ModelViewQuery = graphql(`
  query UserModelView($id: ID!) {
    reconstruction(userId: $id) { unit error percentile modelVersionId items { value observed item { id title } } }
  }
`);

const RecommendationsQuery = graphql(`
  query UserRecommendations($id: ID!) {
    recommendations(userId: $id, limit: 20) { source reason modelVersionId items { score source item { id title categories } } }
  }
`);

const HistoryRecommendationsQuery = graphql(`
  query HistoryRecommendations($itemIds: [ID!]!) {
    recommendationsForHistory(itemIds: $itemIds, limit: 20) { source reason modelVersionId items { score source item { id title categories } } }
  }
`);

type Recs = ResultOf<typeof RecommendationsQuery>['recommendations'];

/** A user's history beside the model's reconstruction and recommendations; or an anonymous history. */
export function UserPage(props: { route: Route }) {
  const id = props.route.path[1] ?? null;
  const history = (props.route.query.get('history') ?? '').split(',').filter(Boolean);
  const [text, setText] = useState(id ?? '');
  return (
    <div class="stack">
      <Card testid="user-search">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (text.trim()) navigate(`/users/${encodeURIComponent(text.trim())}`);
          }}
        >
          <label>
            User id <input name="userId" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="e.g. 1" />
          </label>
          <button class="primary" type="submit">
            Explore
          </button>
          <span class="muted">or</span>
          <a href="#/users?history=">build an anonymous history</a>
        </form>
      </Card>
      {id ? <UserView id={id} /> : props.route.query.has('history') ? <AnonymousView itemIds={history} /> : <p class="muted">Pick a user, or open one from the Anomalies page or the user map.</p>}
    </div>
  );
}

function UserView(props: { id: string }) {
  const user = useQuery(UserQuery, { id: props.id });
  const model = useQuery(ModelViewQuery, { id: props.id });
  const recs = useQuery(RecommendationsQuery, { id: props.id });
  if (!user.data) return user.error ? <ErrorBox error={user.error} /> : <Loading />;
  const u = user.data.user;
  const recon = model.data?.reconstruction;
  const values = recon ? [...recon.items].sort((a, b) => b.value - a.value) : [];
  const max = values.reduce((m, r) => Math.max(m, r.value), 0) || 1;
  return (
    <div class="grid">
      <Card title={`User ${u.id}`} testid="user-summary" class="span-3">
        <div class="stats">
          <div class="stat">
            <div class="stat-label">Latest interactions</div>
            <div class="stat-value">
              {u.interactions.nodes.length}
              {u.interactions.pageInfo.hasNextPage ? '+' : ''}
            </div>
          </div>
          <div class="stat" data-testid="anomaly">
            <div class="stat-label">Anomaly score</div>
            <div class="stat-value">{u.anomalyScore ? fmt(u.anomalyScore.error, 3) : '—'}</div>
            <div class="stat-hint">{u.anomalyScore ? `percentile ${u.anomalyScore.percentile.toFixed(1)}` : 'no active model'}</div>
          </div>
          <div class="stat">
            <div class="stat-label">Since</div>
            <div class="stat-value small-value">{fmtTime(u.createdAt)}</div>
          </div>
        </div>
      </Card>
      <Card title="History (newest first)" testid="history">
        <table class="compact">
          <tbody>
            {u.interactions.nodes.map((n) => (
              <tr key={n.id}>
                <td>
                  <a href={href('items', n.item.id)}>{n.item.title ?? n.item.id}</a>
                </td>
                <td class="muted small">
                  {n.kind}
                  {n.kind === 'RATING' ? ` ${n.value}` : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      <Card title={recon ? `Reconstruction (${recon.unit.toLowerCase()}) · version #${recon.modelVersionId}` : 'Reconstruction'} testid="reconstruction">
        <ErrorBox error={model.error} />
        {recon && (
          <>
            <p class="muted small">
              How the model reads this history back: a value per history item; error {fmt(recon.error, 3)}
              {recon.percentile !== null ? `, percentile ${recon.percentile.toFixed(1)}` : ''}.
            </p>
            <ul class="bars">
              {values.slice(0, 40).map((r) => (
                <li key={r.item.id}>
                  <span class="bar-label">{r.item.title ?? r.item.id}</span>
                  <span class="bar">
                    <span class={`bar-fill ${r.observed ? '' : 'unobserved'}`} style={{ width: `${Math.max(2, (100 * r.value) / max)}%` }} />
                  </span>
                  <span class="bar-value">{r.value < 0.01 ? r.value.toExponential(1) : r.value.toFixed(3)}</span>
                </li>
              ))}
            </ul>
          </>
        )}
        {!recon && !model.error && <Loading />}
      </Card>
      <RecommendationList recs={recs.data?.recommendations} error={recs.error} />
    </div>
  );
}

function AnonymousView(props: { itemIds: string[] }) {
  const [ids, setIds] = useState(props.itemIds.join(', '));
  const recs = useQuery(HistoryRecommendationsQuery, props.itemIds.length ? { itemIds: props.itemIds } : null);
  const go = (list: string[]) => navigate(`/users?history=${list.map(encodeURIComponent).join(',')}`);
  return (
    <div class="grid">
      <Card title="Anonymous history" testid="anonymous" class="span-2">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            go(ids.split(/[\s,]+/).filter(Boolean));
          }}
        >
          <label>
            Item ids <input name="itemIds" class="wide" value={ids} onInput={(e) => setIds(e.currentTarget.value)} placeholder="1, 260, 1196" />
          </label>
          <button class="primary" type="submit">
            Recommend
          </button>
        </form>
        <ItemPicker label="Add by title" onPick={(item) => go([...props.itemIds, item.id])} />
      </Card>
      <RecommendationList recs={recs.data?.recommendationsForHistory} error={recs.error} />
    </div>
  );
}

function RecommendationList(props: { recs: Recs | undefined; error: Error | undefined }) {
  const r = props.recs;
  return (
    <Card title={r ? `Recommendations · ${r.source === 'MODEL' ? `version #${r.modelVersionId}` : r.source.toLowerCase()}` : 'Recommendations'} testid="recommendations">
      <ErrorBox error={props.error} />
      {r?.reason && <p class="muted small">Popular items because {r.reason}.</p>}
      {r && (
        <table class="compact">
          <tbody>
            {r.items.map((it, k) => (
              <tr key={it.item.id}>
                <td class="muted">{k + 1}</td>
                <td>
                  <a href={href('items', it.item.id)}>{it.item.title ?? it.item.id}</a>
                  <div class="muted small">{it.item.categories.join(' · ')}</div>
                </td>
                <td class="num">{fmt(it.score, 3)}</td>
                <td>{it.source !== 'MODEL' && <Badge kind="info">{it.source}</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!r && !props.error && <Loading />}
    </Card>
  );
}
