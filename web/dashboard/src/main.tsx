import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, request, storedKey, storeKey } from './api';
import { ErrorBox, Loading } from './components';
import { useRoute, type Route } from './router';
import { OverviewPage } from './pages/overview';
import { ModelsPage } from './pages/models';
import { TrainingPage } from './pages/training';
import { LatentPage } from './pages/latent';
import { UserPage } from './pages/user';
import { AnomaliesPage } from './pages/anomalies';
import { ItemsPage } from './pages/items';
import { ExperimentsPage } from './pages/experiments';
import { ViewerContext, ViewerQuery, type Viewer } from './viewer';
import './styles.css';

interface Page {
  path: string;
  title: string;
  render: (route: Route) => preact.JSX.Element;
}

/** The pages, in the navigation's order. */
const PAGES: Page[] = [
  { path: 'overview', title: 'Overview', render: () => <OverviewPage /> },
  { path: 'models', title: 'Models', render: (r) => <ModelsPage route={r} /> },
  { path: 'training', title: 'Training', render: (r) => <TrainingPage route={r} /> },
  { path: 'experiments', title: 'Experiments', render: (r) => <ExperimentsPage route={r} /> },
  { path: 'latent', title: 'Latent space', render: (r) => <LatentPage route={r} /> },
  { path: 'users', title: 'User explorer', render: (r) => <UserPage route={r} /> },
  { path: 'anomalies', title: 'Anomalies', render: () => <AnomaliesPage /> },
  { path: 'items', title: 'Items', render: (r) => <ItemsPage route={r} /> },
];

function KeyForm(props: { error?: ApiError; onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  return (
    <div class="key-gate">
      <form
        class="card key-card"
        onSubmit={(e) => {
          e.preventDefault();
          if (key.trim()) props.onKey(key.trim());
        }}
      >
        <h1>Recoder dashboard</h1>
        <p>This server requires an API key. Paste one to continue; it is kept for this browser tab only.</p>
        <p class="muted">
          Create one with <code>npm run apikey -- create --role reader</code> (or <code>--role admin</code> to train and
          activate versions).
        </p>
        <input
          type="password"
          name="apiKey"
          autocomplete="off"
          placeholder="rk_…"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          autofocus
        />
        <button type="submit" class="primary">
          Open dashboard
        </button>
        {props.error && props.error.code !== 'NO_KEY' && <ErrorBox error={props.error} />}
      </form>
    </div>
  );
}

function App() {
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [error, setError] = useState<ApiError | undefined>();
  const [checking, setChecking] = useState(true);
  const route = useRoute();

  const tryKey = (key: string | null) => {
    setChecking(true);
    request(ViewerQuery, {}, key).then(
      (data) => {
        if (key) storeKey(key);
        setViewer(data.viewer);
        setError(undefined);
        setChecking(false);
      },
      (e: ApiError) => {
        if (e.code === 'UNAUTHENTICATED') storeKey(null);
        setError(key === null && e.code === 'UNAUTHENTICATED' ? new ApiError('no key yet', 'NO_KEY') : e);
        setViewer(null);
        setChecking(false);
      },
    );
  };
  useEffect(() => {
    // With keys required and none stored, there is nothing to ask the server yet: show the key form.
    const authRequired = document.querySelector('meta[name="recoder-auth"]')?.getAttribute('content') === 'required';
    const key = storedKey();
    if (key === null && authRequired) {
      setChecking(false);
      return;
    }
    tryKey(key);
  }, []);

  if (checking && !viewer) return <Loading />;
  if (!viewer) return <KeyForm error={error} onKey={tryKey} />;

  const page = PAGES.find((p) => p.path === route.path[0]) ?? PAGES[0];
  return (
    <ViewerContext.Provider value={viewer}>
      <div class="shell">
        <nav class="sidebar" aria-label="Pages">
          <div class="brand">
            Recoder <span>dashboard</span>
          </div>
          {PAGES.map((p) => (
            <a
              key={p.path}
              href={`#/${p.path}`}
              class={p === page ? 'active' : ''}
              aria-current={p === page ? 'page' : undefined}
            >
              {p.title}
            </a>
          ))}
          <div class="sidebar-foot">
            <div class="muted" data-testid="viewer-role">
              {viewer.authRequired
                ? `Key ${viewer.keyPrefix}… · ${viewer.role.toLowerCase()}`
                : 'Open server · no API keys'}
            </div>
            {viewer.authRequired && (
              <button
                class="link"
                onClick={() => {
                  storeKey(null);
                  setViewer(null);
                  setError(undefined);
                }}
              >
                Forget key
              </button>
            )}
            <a href="../graphiql" class="muted">
              GraphiQL ↗
            </a>
          </div>
        </nav>
        <main class="content" data-page={page.path}>
          <h1 class="page-title">{page.title}</h1>
          {page.render(route)}
        </main>
      </div>
    </ViewerContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
