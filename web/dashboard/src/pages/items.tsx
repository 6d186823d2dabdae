import { useEffect, useState } from 'preact/hooks';
import { useQuery } from '../api';
import { Badge, Card, ErrorBox, Loading } from '../components';
import { fmt } from '../format';
import { graphql, type ResultOf } from '../graphql';
import { href, navigate, type Route } from '../router';

const SearchQuery = graphql(`
  query SearchItems($query: String!) {
    searchItems(query: $query, limit: 12) {
      id
      title
      categories
      hidden
    }
  }
`);
type Found = ResultOf<typeof SearchQuery>['searchItems'][number];

const ItemQuery = graphql(`
  query ItemView($id: ID!) {
    item(id: $id) {
      id
      title
      categories
      hidden
      attributes
      image {
        png
        size
        channels
      }
    }
  }
`);

/** A neighbour as both neighbour lists show it. */
const NeighbourFields = graphql(`
  fragment NeighbourFields on SimilarItem {
    score
    item {
      id
      title
      categories
      image {
        png
      }
    }
  }
`);

const CollaborativeQuery = graphql(
  `
    query CollaborativeNeighbours($id: ID!) {
      similarItems(itemId: $id, limit: 12, by: COLLABORATIVE) {
        ...NeighbourFields
      }
    }
  `,
  [NeighbourFields],
);

const VisualQuery = graphql(
  `
    query VisualNeighbours($id: ID!) {
      similarItems(itemId: $id, limit: 12, by: VISUAL) {
        ...NeighbourFields
      }
      reconstructImage(itemId: $id) {
        png
        error
        percentile
        modelVersionId
      }
    }
  `,
  [NeighbourFields],
);

const png = (b64: string) => `data:image/png;base64,${b64}`;

/** Search by title or id, with the results as a list to pick from (debounced). */
/** A search box listing the items whose id or title matches; `clearOnPick` empties it after a pick (for adding several items). */
export function ItemPicker(props: { label: string; onPick: (item: Found) => void; clearOnPick?: boolean }) {
  const [text, setText] = useState('');
  const [query, setQuery] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setQuery(text.trim()), 250);
    return () => clearTimeout(t);
  }, [text]);
  const found = useQuery(SearchQuery, query ? { query } : null);
  return (
    <div class="picker">
      <label>
        {props.label}{' '}
        <input
          name="search"
          class="wide"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          placeholder="title or id, e.g. toy story"
        />
      </label>
      <ErrorBox error={found.error} />
      {query && found.data && (
        <ul class="plain results" data-testid="search-results">
          {found.data.searchItems.length === 0 && <li class="muted">No item matches “{query}”.</li>}
          {found.data.searchItems.map((item) => (
            <li key={item.id}>
              <button
                class="link"
                onClick={() => {
                  if (props.clearOnPick) {
                    setText('');
                    setQuery('');
                  }
                  props.onPick(item);
                }}
              >
                {item.title ?? item.id}
              </button>{' '}
              <span class="muted small">
                id {item.id} · {item.categories.join(' · ')}
              </span>{' '}
              {item.hidden && <Badge kind="warn">hidden</Badge>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One item: its image and the image autoencoder's reconstruction, collaborative and visual neighbours. */
export function ItemsPage(props: { route: Route }) {
  const id = props.route.path[1] ?? null;
  return (
    <div class="stack">
      <Card testid="item-search">
        <ItemPicker label="Find an item" onPick={(item) => navigate(`/items/${encodeURIComponent(item.id)}`)} />
      </Card>
      {id ? <ItemView id={id} /> : <p class="muted">Search for an item by title or id.</p>}
    </div>
  );
}

function ItemView(props: { id: string }) {
  const item = useQuery(ItemQuery, { id: props.id });
  const collab = useQuery(CollaborativeQuery, { id: props.id });
  const hasImage = !!item.data?.item.image;
  const visual = useQuery(VisualQuery, hasImage ? { id: props.id } : null);
  if (!item.data) return item.error ? <ErrorBox error={item.error} /> : <Loading />;
  const it = item.data.item;
  return (
    <div class="grid two">
      <Card title={it.title ?? `Item ${it.id}`} class="span-3" testid="item">
        <div class="item-head">
          {it.image && (
            <figure>
              <img class="thumb" src={png(it.image.png!)} alt="stored image" width={96} height={96} />
              <figcaption class="muted small">
                stored {it.image.size}×{it.image.size}
              </figcaption>
            </figure>
          )}
          {visual.data && (
            <figure>
              <img
                class="thumb"
                src={png(visual.data.reconstructImage.png)}
                alt="reconstruction"
                width={96}
                height={96}
                data-testid="reconstructed"
              />
              <figcaption class="muted small">
                CONV_AE #{visual.data.reconstructImage.modelVersionId} · error{' '}
                {fmt(visual.data.reconstructImage.error, 4)} · pct {visual.data.reconstructImage.percentile.toFixed(0)}
              </figcaption>
            </figure>
          )}
          <dl class="facts">
            <dt>Id</dt>
            <dd>{it.id}</dd>
            <dt>Categories</dt>
            <dd>{it.categories.join(', ') || '—'}</dd>
            <dt>Visibility</dt>
            <dd>{it.hidden ? <Badge kind="warn">hidden</Badge> : 'visible'}</dd>
            {Object.keys(it.attributes).length > 0 && (
              <>
                <dt>Attributes</dt>
                <dd>
                  <code>{JSON.stringify(it.attributes)}</code>
                </dd>
              </>
            )}
          </dl>
        </div>
      </Card>
      <Card title="Collaborative neighbours" testid="collaborative">
        <p class="muted small">Watched / bought together: cosine of the active version's item vectors.</p>
        <ErrorBox error={collab.error} />
        {collab.data && <NeighbourList list={collab.data.similarItems} />}
      </Card>
      <Card title="Visual neighbours" testid="visual">
        <p class="muted small">Look alike: the image autoencoder's embeddings.</p>
        {!hasImage ? <p class="muted">This item has no image (setItemImage).</p> : <ErrorBox error={visual.error} />}
        {visual.data && <NeighbourList list={visual.data.similarItems} />}
      </Card>
    </div>
  );
}

function NeighbourList(props: {
  list: {
    score: number;
    item: { id: string; title: string | null; categories: string[]; image: { png: string | null } | null };
  }[];
}) {
  const images = props.list.some((s) => s.item.image?.png);
  return (
    <table class="compact">
      <tbody>
        {props.list.map((s) => (
          <tr key={s.item.id}>
            {images && (
              <td class="thumb-cell">
                {s.item.image?.png && <img class="mini" src={png(s.item.image.png)} alt="" width={32} height={32} />}
              </td>
            )}
            <td>
              <a href={href('items', s.item.id)}>{s.item.title ?? s.item.id}</a>
              <div class="muted small">{s.item.categories.join(' · ')}</div>
            </td>
            <td class="num">{fmt(s.score, 3)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
