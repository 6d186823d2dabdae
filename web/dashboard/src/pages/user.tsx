import { useEffect, useState } from 'preact/hooks';
import { useQuery, type ApiError } from '../api';
import { Badge, Card, ErrorBox, Loading } from '../components';
import { fmt, fmtTime } from '../format';
import { graphql, type ResultOf } from '../graphql';
import { href, navigate, type Route } from '../router';
import { ItemPicker } from './items';

/** What RecommendationList shows: the same fields for a user and for an anonymous history. */
const RecommendationListFields = graphql(`
  fragment RecommendationListFields on Recommendations {
    source
    reason
    modelVersionId
    items {
      score
      source
      item {
        id
        title
        categories
      }
    }
  }
`);

/** What ReconstructionCard shows: the same fields for a user and for an anonymous history. */
const ReconstructionFields = graphql(`
  fragment ReconstructionFields on Reconstruction {
    unit
    error
    percentile
    modelVersionId
    items {
      value
      observed
      item {
        id
        title
      }
    }
  }
`);

const UserQuery = graphql(`
  query UserExplorer($id: ID!) {
    user(id: $id) {
      id
      createdAt
      anomalyScore {
        error
        percentile
        modelVersionId
      }
      interactions(first: 100) {
        nodes {
          id
          kind
          value
          occurredAt
          item {
            id
            title
          }
        }
        pageInfo {
          hasNextPage
        }
      }
    }
  }
`);

const ModelViewQuery = graphql(
  `
    query UserModelView($id: ID!) {
      reconstruction(userId: $id) {
        ...ReconstructionFields
      }
    }
  `,
  [ReconstructionFields],
);

const RecommendationsQuery = graphql(
  `
    query UserRecommendations($id: ID!) {
      recommendations(userId: $id, limit: 20) {
        ...RecommendationListFields
      }
    }
  `,
  [RecommendationListFields],
);

const HistoryRecommendationsQuery = graphql(
  `
    query HistoryRecommendations($itemIds: [ID!]!) {
      recommendationsForHistory(itemIds: $itemIds, limit: 20) {
        ...RecommendationListFields
      }
    }
  `,
  [RecommendationListFields],
);

const HistoryModelViewQuery = graphql(
  `
    query HistoryModelView($itemIds: [ID!]!) {
      reconstructionForHistory(itemIds: $itemIds) {
        ...ReconstructionFields
      }
      anomalyScoreForHistory(itemIds: $itemIds) {
        error
        percentile
        modelVersionId
      }
    }
  `,
  [ReconstructionFields],
);

type Recs = ResultOf<typeof RecommendationListFields>;
type Recon = ResultOf<typeof ReconstructionFields>;

/** Most items an anonymous history may hold (the API's limit for `itemIds`). */
const MAX_HISTORY = 1000;

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
            User id{' '}
            <input name="userId" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="e.g. 1" />
          </label>
          <button class="primary" type="submit">
            Explore
          </button>
          <span class="muted">or</span>
          <a href="#/users?history=">build an anonymous history</a>
        </form>
      </Card>
      {id ? (
        <UserView id={id} />
      ) : props.route.query.has('history') ? (
        <AnonymousView itemIds={history} />
      ) : (
        <p class="muted">Pick a user, or open one from the Anomalies page or the user map.</p>
      )}
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
            <div class="stat-hint">
              {u.anomalyScore ? `percentile ${u.anomalyScore.percentile.toFixed(1)}` : 'no active model'}
            </div>
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
      <ReconstructionCard recon={recon} error={model.error} />
      <RecommendationList recs={recs.data?.recommendations} error={recs.error} />
    </div>
  );
}

/** Items typed as ids or picked by title, explored like a user: what the model reads back, its anomaly score, its recommendations. */
function AnonymousView(props: { itemIds: string[] }) {
  const itemIds = props.itemIds;
  const [ids, setIds] = useState(itemIds.join(', '));
  useEffect(() => setIds(itemIds.join(', ')), [itemIds.join(',')]);
  const tooMany = itemIds.length > MAX_HISTORY;
  const variables = itemIds.length && !tooMany ? { itemIds } : null;
  const model = useQuery(HistoryModelViewQuery, variables);
  const recs = useQuery(HistoryRecommendationsQuery, variables);
  const go = (list: string[]) => navigate(`/users?history=${[...new Set(list)].map(encodeURIComponent).join(',')}`);
  // Answers for another history stay shown while the new one loads; an error belongs to the latest.
  const recon = model.error ? undefined : model.data?.reconstructionForHistory;
  const anomaly = model.error ? undefined : model.data?.anomalyScoreForHistory;
  const known = new Map((recon?.items ?? []).map((r) => [r.item.id, r]));
  return (
    <div class="grid">
      <Card title="Anonymous history" testid="anonymous" class="span-3">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            go(ids.split(/[\s,]+/).filter(Boolean));
          }}
        >
          <label>
            Item ids{' '}
            <input
              name="itemIds"
              class="wide"
              value={ids}
              onInput={(e) => setIds(e.currentTarget.value)}
              placeholder="e.g. 1, 260, 1196"
            />
          </label>
          <button class="primary" type="submit">
            Explore history
          </button>
          {itemIds.length > 0 && (
            <button type="button" onClick={() => go([])}>
              Clear
            </button>
          )}
        </form>
        <ItemPicker label="Add by title" clearOnPick onPick={(item) => go([...itemIds, item.id])} />
        {tooMany && (
          <div class="error" role="alert">
            At most {MAX_HISTORY.toLocaleString('en-US')} items ({itemIds.length.toLocaleString('en-US')} given).
          </div>
        )}
        <ErrorBox error={model.error} />
        {itemIds.length > 0 && !tooMany && !model.error && (
          <div class="stats summary">
            <div class="stat">
              <div class="stat-label">Items</div>
              <div class="stat-value">{itemIds.length}</div>
            </div>
            <div class="stat" data-testid="known">
              <div class="stat-label">Known to the model</div>
              <div class="stat-value">{recon ? known.size : '…'}</div>
              <div class="stat-hint">{recon ? `version #${recon.modelVersionId}` : ''}</div>
            </div>
            <div class="stat" data-testid="anomaly">
              <div class="stat-label">Anomaly score</div>
              <div class="stat-value">{anomaly ? fmt(anomaly.error, 3) : recon ? '—' : '…'}</div>
              <div class="stat-hint">
                {anomaly ? `percentile ${anomaly.percentile.toFixed(1)}` : recon ? 'no item the model knows' : ''}
              </div>
            </div>
          </div>
        )}
      </Card>
      {itemIds.length === 0 && (
        <p class="muted span-3">
          Type item ids, or add items by title: the history is read as a session of positives, as
          recommendationsForHistory reads it.
        </p>
      )}
      {itemIds.length > 0 && !tooMany && !model.error && (
        <>
          <Card title="History (as given)" testid="history">
            <table class="compact">
              <tbody>
                {itemIds.map((id) => {
                  const r = known.get(id);
                  return (
                    <tr key={id}>
                      <td>
                        <a href={href('items', id)}>{r?.item.title ?? id}</a>
                        {recon && !r && (
                          <div>
                            <Badge
                              kind="warn"
                              title="The version has no vector for this item (no interactions when it was trained): the model reads the history without it."
                            >
                              not in version #{recon.modelVersionId}
                            </Badge>
                          </div>
                        )}
                      </td>
                      <td class="num">
                        <button
                          class="link"
                          title={`Remove ${r?.item.title ?? id}`}
                          aria-label={`Remove ${r?.item.title ?? id}`}
                          onClick={() => go(itemIds.filter((x) => x !== id))}
                        >
                          ✕
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </Card>
          <ReconstructionCard recon={recon} error={undefined} />
          <RecommendationList recs={recs.error ? undefined : recs.data?.recommendationsForHistory} error={recs.error} />
        </>
      )}
    </div>
  );
}

function ReconstructionCard(props: { recon: Recon | undefined; error: ApiError | undefined }) {
  const recon = props.recon;
  const values = recon ? [...recon.items].sort((a, b) => b.value - a.value) : [];
  const max = values.reduce((m, r) => Math.max(m, r.value), 0) || 1;
  return (
    <Card
      title={
        recon ? `Reconstruction (${recon.unit.toLowerCase()}) · version #${recon.modelVersionId}` : 'Reconstruction'
      }
      testid="reconstruction"
    >
      <ErrorBox error={props.error} />
      {recon && (
        <>
          <p class="muted small">
            How the model reads this history back: a value per history item; error {fmt(recon.error, 3)}
            {recon.percentile !== null ? `, percentile ${recon.percentile.toFixed(1)}` : ''}.
          </p>
          <ul class="bars">
            {values.slice(0, 40).map((r) => (
              <li key={r.item.id}>
                <span class="bar-label" title={r.item.title ?? r.item.id}>
                  {r.item.title ?? r.item.id}
                </span>
                <span class="bar">
                  <span
                    class={`bar-fill ${r.observed ? '' : 'unobserved'}`}
                    style={{ width: `${Math.max(2, (100 * r.value) / max)}%` }}
                  />
                </span>
                <span class="bar-value">{r.value < 0.01 ? r.value.toExponential(1) : r.value.toFixed(3)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {!recon && !props.error && <Loading />}
    </Card>
  );
}

function RecommendationList(props: { recs: Recs | undefined; error: Error | undefined }) {
  const r = props.recs;
  return (
    <Card
      title={
        r
          ? `Recommendations · ${r.source === 'MODEL' ? `version #${r.modelVersionId}` : r.source.toLowerCase()}`
          : 'Recommendations'
      }
      testid="recommendations"
    >
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
