import { useEffect, useMemo, useState } from 'preact/hooks';
import { request, useQuery, type ApiError } from '../api';
import { Badge, Card, ErrorBox, LineChart, Loading, STATUS_BADGE, type Series } from '../components';
import { fmt, fmtSeconds, fmtTime } from '../format';
import { graphql, type ResultOf } from '../graphql';
import { href, navigate, type Route } from '../router';
import { useIsAdmin } from '../viewer';

const RunsQuery = graphql(`
  query TrainingRuns {
    trainingRuns(first: 20) {
      id
      kind
      status
      trigger
      progress
      createdAt
      finishedAt
      decision
      activated
    }
  }
`);

const RunQuery = graphql(`
  query TrainingRun($id: Int!) {
    trainingRun(id: $id) {
      id
      kind
      status
      activation
      trigger
      progress
      stage
      epoch
      epochs
      activated
      decision
      error
      cancelRequested
      createdAt
      startedAt
      finishedAt
      dataSeconds
      trainingSeconds
      versionId
      hyperparameters
      history {
        epoch
        loss
        validation
        seconds
        candidate
      }
      candidates {
        name
        kind
        status
        ndcg
        seconds
        chosen
        reason
      }
      comparison {
        metric
        candidate
        active
        activeVersionId
        users
      }
    }
  }
`);
type Run = ResultOf<typeof RunQuery>['trainingRun'];

const TrainMutation = graphql(`
  mutation Train($input: TrainModelInput!) {
    trainModel(input: $input) {
      id
      status
    }
  }
`);

const CancelMutation = graphql(`
  mutation Cancel($id: Int!) {
    cancelTrainingRun(id: $id) {
      id
      status
      cancelRequested
    }
  }
`);

const KINDS = ['AUTO', 'VAE', 'DAE', 'EASE', 'AUTOREC'] as const;
const POLICIES = ['IF_BETTER', 'ALWAYS', 'NEVER', 'EXPERIMENT'] as const;
const COLORS = ['#3b6fd8', '#d8643b', '#2f9e6e', '#9b59b6', '#c0392b', '#16a085', '#7f8c8d'];
const live = (status: string) => status === 'QUEUED' || status === 'RUNNING';

/** Start a run (admin), watch its loss and validation curves grow, cancel it, read its decision. */
export function TrainingPage(props: { route: Route }) {
  const runs = useQuery(RunsQuery, {}, { pollMs: 5_000 });
  const admin = useIsAdmin();
  const chosen = Number(props.route.path[1]) || runs.data?.trainingRuns[0]?.id || null;
  return (
    <div class="grid training">
      <div class="stack span-2">
        {chosen ? (
          <RunView id={chosen} onChange={runs.reload} />
        ) : runs.data ? (
          <Card title="No training run yet">Start one{admin ? ' below' : ' with an admin key'}.</Card>
        ) : (
          <Loading />
        )}
      </div>
      <div class="stack">
        {admin && <StartForm onStarted={runs.reload} />}
        <Card title="Runs" testid="runs">
          <ErrorBox error={runs.error} />
          <ul class="plain runs">
            {runs.data?.trainingRuns.map((r) => (
              <li key={r.id} class={r.id === chosen ? 'focus' : ''}>
                <a href={href('training', r.id)}>
                  #{r.id} {r.kind}
                </a>{' '}
                <Badge kind={STATUS_BADGE[r.status]}>{r.status}</Badge>{' '}
                {r.activated && <Badge kind="ok">activated</Badge>}
                <div class="muted small">{fmtTime(r.createdAt)}</div>
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </div>
  );
}

function StartForm(props: { onStarted: () => void }) {
  const [kind, setKind] = useState<(typeof KINDS)[number]>('AUTO');
  const [activate, setActivate] = useState<(typeof POLICIES)[number]>('IF_BETTER');
  const [epochs, setEpochs] = useState('');
  const [hyper, setHyper] = useState('');
  const [error, setError] = useState<ApiError | Error | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const n = epochs.trim() ? Number(epochs) : null;
    let hyperparameters: Record<string, unknown> | undefined;
    try {
      hyperparameters = hyper.trim() ? (JSON.parse(hyper) as Record<string, unknown>) : undefined;
      if (
        hyperparameters !== undefined &&
        (typeof hyperparameters !== 'object' || hyperparameters === null || Array.isArray(hyperparameters))
      )
        throw new Error('not an object');
    } catch (err) {
      setBusy(false);
      setError(new Error(`Hyperparameters must be a JSON object, e.g. {"latentDim": 64} (${(err as Error).message})`));
      return;
    }
    request(TrainMutation, {
      input: { kind, activate, ...(n !== null ? { epochs: n } : {}), ...(hyperparameters ? { hyperparameters } : {}) },
    }).then(
      (data) => {
        setBusy(false);
        props.onStarted();
        navigate(`/training/${data.trainModel.id}`);
      },
      (err: ApiError) => {
        setBusy(false);
        setError(err);
      },
    );
  };
  return (
    <Card title="Start a run" testid="start-run">
      <form class="form" onSubmit={submit}>
        <label>
          Kind
          <select name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as typeof kind)}>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          Activation
          <select
            name="activate"
            value={activate}
            onChange={(e) => setActivate(e.currentTarget.value as typeof activate)}
          >
            {POLICIES.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          Epochs
          <input
            name="epochs"
            type="number"
            min={1}
            placeholder="model default"
            value={epochs}
            onInput={(e) => setEpochs(e.currentTarget.value)}
          />
        </label>
        <label class="full">
          Hyperparameters (JSON, optional)
          <input
            name="hyperparameters"
            placeholder='{"latentDim": 64, "dropout": 0.5}'
            value={hyper}
            onInput={(e) => setHyper(e.currentTarget.value)}
          />
        </label>
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Queuing…' : 'Train'}
        </button>
      </form>
      <ErrorBox error={error} />
    </Card>
  );
}

function RunView(props: { id: number; onChange: () => void }) {
  const [poll, setPoll] = useState(true);
  const { data, error, reload } = useQuery(RunQuery, { id: props.id }, { pollMs: poll ? 1_000 : undefined });
  const admin = useIsAdmin();
  const [cancelError, setCancelError] = useState<ApiError | undefined>();
  const run = data?.trainingRun.id === props.id ? data.trainingRun : undefined;
  const status = run?.status;
  const { onChange } = props;
  useEffect(() => {
    if (!status) return;
    setPoll(live(status));
    onChange(); // the run list shows the new status too
  }, [status, onChange]);
  const curves = useMemo(() => (run ? toCurves(run) : null), [run]);
  if (!run) return error ? <ErrorBox error={error} /> : <Loading />;
  const cancel = () => {
    setCancelError(undefined);
    request(CancelMutation, { id: run.id }).then(
      () => {
        reload();
        props.onChange();
      },
      (e: ApiError) => setCancelError(e),
    );
  };
  return (
    <>
      <Card
        title={
          <>
            Run #{run.id} · {run.kind} <Badge kind={STATUS_BADGE[run.status]}>{run.status}</Badge>
          </>
        }
        actions={
          admin &&
          live(run.status) &&
          !run.cancelRequested && (
            <button class="warn" onClick={cancel}>
              Cancel run
            </button>
          )
        }
        testid="run"
      >
        <ErrorBox error={error ?? cancelError} />
        <div class="progress-line">
          <progress value={run.progress} max={1} />{' '}
          <span data-testid="run-progress">{Math.round(run.progress * 100)} %</span>
          <span class="muted">
            {run.stage ?? ''}{' '}
            {run.epochs ? `· epoch ${run.epoch} of ${run.epochs}` : run.epoch ? `· epoch ${run.epoch}` : ''}
            {run.cancelRequested && live(run.status) ? ' · cancelling…' : ''}
          </span>
        </div>
        <dl class="facts inline">
          <dt>Policy</dt>
          <dd>{run.activation}</dd>
          <dt>Trigger</dt>
          <dd>{run.trigger}</dd>
          <dt>Started</dt>
          <dd>{fmtTime(run.startedAt)}</dd>
          <dt>Data</dt>
          <dd>{fmtSeconds(run.dataSeconds)}</dd>
          <dt>Training</dt>
          <dd>{fmtSeconds(run.trainingSeconds)}</dd>
          {run.versionId && (
            <>
              <dt>Version</dt>
              <dd>
                <a href={href('models', run.versionId)}>#{run.versionId}</a>
              </dd>
            </>
          )}
        </dl>
        {(run.decision || run.error) && (
          <div class={`decision ${run.activated ? 'ok' : run.error ? 'bad' : ''}`} data-testid="decision">
            <strong>{run.activated ? 'Activated' : run.status === 'SUCCEEDED' ? 'Not activated' : run.status}</strong>
            {run.decision ? `: ${run.decision}` : ''}
            {run.error && <div>{run.error}</div>}
            {run.comparison && (
              <div class="muted small">
                {run.comparison.metric} on {run.comparison.users} held-out users: new {fmt(run.comparison.candidate)}
                {run.comparison.active !== null &&
                  ` · version #${run.comparison.activeVersionId} ${fmt(run.comparison.active)}`}
              </div>
            )}
          </div>
        )}
      </Card>
      <Card title="Training loss per epoch" testid="loss">
        {curves && curves.x.length > 0 ? (
          <LineChart x={curves.x} ys={curves.loss} series={curves.series} xLabel="epoch" testid="loss-chart" />
        ) : (
          <p class="muted">
            {run.kind === 'EASE' ? 'EASE is solved in closed form: no epochs.' : 'No epoch finished yet.'}
          </p>
        )}
      </Card>
      <Card title={`Validation ${run.kind === 'AUTOREC' ? 'RMSE' : 'NDCG@100'} per epoch`} testid="validation">
        {curves && curves.x.some((_, k) => curves.validation.some((s) => s[k] !== null)) ? (
          <LineChart
            x={curves.x}
            ys={curves.validation}
            series={curves.series}
            xLabel="epoch"
            testid="validation-chart"
          />
        ) : (
          <p class="muted">No validation score yet.</p>
        )}
      </Card>
      {run.candidates.length > 0 && (
        <Card title="Candidates (AUTO)" testid="candidates">
          <table>
            <thead>
              <tr>
                <th>Candidate</th>
                <th>Status</th>
                <th class="num">NDCG@100</th>
                <th class="num">Time</th>
                <th>Note</th>
              </tr>
            </thead>
            <tbody>
              {run.candidates.map((c) => (
                <tr key={c.name} class={c.chosen ? 'focus' : ''}>
                  <td>
                    {c.name} {c.chosen && <Badge kind="ok">chosen</Badge>}
                  </td>
                  <td>{c.status}</td>
                  <td class="num">{fmt(c.ndcg)}</td>
                  <td class="num">{fmtSeconds(c.seconds)}</td>
                  <td class="muted small">{c.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </>
  );
}

/** The history as chart data: x = epoch number in order, one series per candidate (AUTO) or one. */
function toCurves(run: Run): {
  x: number[];
  loss: (number | null)[][];
  validation: (number | null)[][];
  series: Series[];
} {
  const names = [...new Set(run.history.map((h) => h.candidate ?? run.kind))];
  const x = run.history.map((_, k) => k + 1);
  const loss = names.map((n) => run.history.map((h) => ((h.candidate ?? run.kind) === n ? h.loss : null)));
  const validation = names.map((n) =>
    run.history.map((h) => ((h.candidate ?? run.kind) === n ? (h.validation ?? null) : null)),
  );
  return { x, loss, validation, series: names.map((n, k) => ({ label: n, color: COLORS[k % COLORS.length] })) };
}
