import { useState } from 'preact/hooks';
import { request, useQuery, type ApiError } from '../api';
import { Badge, Card, ErrorBox, Loading } from '../components';
import { fmtInt, fmtTime } from '../format';
import { graphql, type ResultOf } from '../graphql';
import { href, navigate, type Route } from '../router';
import { useIsAdmin } from '../viewer';

const ExperimentsQuery = graphql(`
  query Experiments {
    experiments(limit: 20) {
      id
      name
      status
      startedAt
      stoppedAt
      stopReason
      winnerVersionId
      trainingRunId
    }
    modelVersions(first: 100) {
      id
      kind
      name
      active
    }
  }
`);

const ExperimentQuery = graphql(`
  query ExperimentReport($id: Int!) {
    experiment(id: $id) {
      id
      name
      status
      startedAt
      stoppedAt
      stopReason
      winnerVersionId
      arms(k: 10) {
        arm
        versionId
        weight
        control
        metrics {
          impressions
          subjects
          attributedInteractions
          catalogCoverage
          ctr {
            successes
            trials
            rate
            low
            high
          }
          fallbackShare {
            rate
            low
            high
          }
          weightedConversion {
            mean
            low
            high
          }
        }
        ctrDifference {
          estimate
          low
          high
          pValue
          significant
        }
      }
    }
  }
`);
type Arm = NonNullable<ResultOf<typeof ExperimentQuery>['experiment']>['arms'][number];

const StartMutation = graphql(`
  mutation StartExperiment($arms: [ExperimentArmInput!]!, $name: String) {
    startExperiment(arms: $arms, name: $name) {
      id
    }
  }
`);

const StopMutation = graphql(`
  mutation StopExperiment($id: Int!, $winner: Int) {
    stopExperiment(id: $id, winner: $winner) {
      id
      status
    }
  }
`);

const pct = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined ? '—' : `${(x * 100).toFixed(digits)} %`;
const pp = (x: number | null | undefined) =>
  x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} pp`;

/** Online experiments between versions: each arm's CTR@10 with its interval and the difference to the control; start and stop (admin). */
export function ExperimentsPage(props: { route: Route }) {
  const { data, error, reload } = useQuery(ExperimentsQuery, {}, { pollMs: 10_000 });
  const admin = useIsAdmin();
  const focus = Number(props.route.path[1]);
  if (!data) return error ? <ErrorBox error={error} /> : <Loading />;
  const running = data.experiments.find((e) => e.status === 'RUNNING');
  const selected = Number.isInteger(focus) && focus > 0 ? focus : (running?.id ?? data.experiments[0]?.id);
  return (
    <div class="stack">
      <ErrorBox error={error} />
      {selected !== undefined && <Report id={selected} admin={admin} onChange={reload} />}
      <Card title={`Experiments (${data.experiments.length})`} testid="experiments">
        {data.experiments.length === 0 ? (
          <p class="muted">No experiment yet{admin ? ': start one below, or train with activation EXPERIMENT' : ''}.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Experiment</th>
                <th>Status</th>
                <th>Started</th>
                <th>Stopped</th>
                <th>Outcome</th>
              </tr>
            </thead>
            <tbody>
              {data.experiments.map((e) => (
                <tr key={e.id} class={e.id === selected ? 'selected' : undefined}>
                  <td>
                    <a href={href('experiments', e.id)}>
                      #{e.id} {e.name ?? ''}
                    </a>
                  </td>
                  <td>
                    {e.status === 'RUNNING' ? <Badge kind="ok">running</Badge> : <Badge kind="plain">stopped</Badge>}
                  </td>
                  <td>{fmtTime(e.startedAt)}</td>
                  <td>{fmtTime(e.stoppedAt)}</td>
                  <td class="small">{e.stopReason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      {admin && !running && (
        <StartForm
          versions={data.modelVersions.filter((v) => v.kind !== 'CONV_AE')}
          onStarted={(id) => (reload(), navigate(href('experiments', id)))}
        />
      )}
    </div>
  );
}

function Report(props: { id: number; admin: boolean; onChange: () => void }) {
  const { data, error, reload } = useQuery(ExperimentQuery, { id: props.id }, { pollMs: 10_000 });
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<ApiError | undefined>();
  if (!data) return error ? <ErrorBox error={error} /> : <Loading />;
  const e = data.experiment;
  if (!e) return <ErrorBox error={new Error(`experiment ${props.id} not found`)} />;
  const stop = (winner: number | null) => {
    setBusy(true);
    setActionError(undefined);
    request(StopMutation, { id: e.id, winner }).then(
      () => {
        setBusy(false);
        reload();
        props.onChange();
      },
      (err: ApiError) => {
        setBusy(false);
        setActionError(err);
      },
    );
  };
  const running = e.status === 'RUNNING';
  return (
    <Card
      title={`Experiment #${e.id}${e.name ? ` · ${e.name}` : ''} · ${running ? 'running' : 'stopped'}`}
      testid="experiment-report"
      actions={
        props.admin && running ? (
          <button disabled={busy} onClick={() => stop(null)}>
            Stop without a winner
          </button>
        ) : undefined
      }
    >
      <ErrorBox error={actionError} />
      <p class="muted small">
        CTR@10: share of answers followed by an attributed interaction with one of their first 10 items, with its 95 %
        Wilson interval. The difference to the control (arm 0) has a 95 % Newcombe interval; it is significant when the
        interval excludes 0. Since {fmtTime(e.startedAt)}
        {e.stoppedAt ? ` until ${fmtTime(e.stoppedAt)}` : ''}.
      </p>
      <table data-testid="arms">
        <thead>
          <tr>
            <th>Arm</th>
            <th>Version</th>
            <th class="num">Weight</th>
            <th class="num">Impressions</th>
            <th class="num">CTR@10</th>
            <th class="num">95 % interval</th>
            <th class="num">vs. control</th>
            <th class="num">Weighted conversion</th>
            <th class="num">Fallback</th>
            <th class="num">Coverage</th>
            {props.admin && running && <th />}
          </tr>
        </thead>
        <tbody>
          {e.arms.map((a) => (
            <ArmRow
              key={a.arm}
              a={a}
              admin={props.admin && running}
              busy={busy}
              onWin={() => stop(a.versionId)}
              winner={e.winnerVersionId === a.versionId}
            />
          ))}
        </tbody>
      </table>
      {e.stopReason && <p class="small">{e.stopReason}</p>}
    </Card>
  );
}

function ArmRow(props: { a: Arm; admin: boolean; busy: boolean; winner: boolean; onWin: () => void }) {
  const { a } = props;
  const d = a.ctrDifference;
  return (
    <tr
      data-arm={a.arm}
      data-impressions={a.metrics.impressions}
      data-significant={d ? String(d.significant) : undefined}
    >
      <td>
        {a.arm} {a.control && <Badge kind="info">control</Badge>} {props.winner && <Badge kind="ok">winner</Badge>}
      </td>
      <td>
        <a href={href('models', a.versionId)}>#{a.versionId}</a>
      </td>
      <td class="num">{a.weight}</td>
      <td class="num">{fmtInt(a.metrics.impressions)}</td>
      <td class="num">{pct(a.metrics.ctr.rate)}</td>
      <td class="num">
        {pct(a.metrics.ctr.low)} – {pct(a.metrics.ctr.high)}
      </td>
      <td class="num">
        {d ? (
          <span
            title={`95 % interval ${pp(d.low)} to ${pp(d.high)}, p = ${d.pValue === null ? '—' : d.pValue.toPrecision(2)}`}
          >
            {pp(d.estimate)} [{pp(d.low)}, {pp(d.high)}]{' '}
            {d.significant ? (
              <Badge kind={(d.estimate ?? 0) > 0 ? 'ok' : 'bad'}>significant</Badge>
            ) : (
              <Badge kind="plain">not significant</Badge>
            )}
          </span>
        ) : (
          '—'
        )}
      </td>
      <td class="num">
        {a.metrics.weightedConversion.mean === null ? '—' : a.metrics.weightedConversion.mean.toFixed(3)}
      </td>
      <td class="num">{pct(a.metrics.fallbackShare.rate, 1)}</td>
      <td class="num">{pct(a.metrics.catalogCoverage, 1)}</td>
      {props.admin && (
        <td>
          <button disabled={props.busy} onClick={props.onWin}>
            Stop, activate #{a.versionId}
          </button>
        </td>
      )}
    </tr>
  );
}

function StartForm(props: {
  versions: { id: number; kind: string; name: string; active: boolean }[];
  onStarted: (id: number) => void;
}) {
  const active = props.versions.find((v) => v.active);
  const [control, setControl] = useState<number | undefined>(active?.id ?? props.versions[0]?.id);
  const [treatment, setTreatment] = useState<number | undefined>(
    props.versions.find((v) => v.id !== (active?.id ?? props.versions[0]?.id))?.id,
  );
  const [share, setShare] = useState('0.5');
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  if (props.versions.length < 2) return null;
  const option = (v: { id: number; kind: string; active: boolean }) => (
    <option key={v.id} value={v.id}>
      #{v.id} {v.kind}
      {v.active ? ' (active)' : ''}
    </option>
  );
  const submit = (e: Event) => {
    e.preventDefault();
    const s = Number(share);
    setBusy(true);
    setError(undefined);
    request(StartMutation, {
      arms: [
        { versionId: control!, weight: 1 - s },
        { versionId: treatment!, weight: s },
      ],
      name: null,
    }).then(
      (r) => {
        setBusy(false);
        props.onStarted(r.startExperiment.id);
      },
      (err: ApiError) => {
        setBusy(false);
        setError(err);
      },
    );
  };
  return (
    <Card title="Start an experiment" testid="start-experiment">
      <form class="row" onSubmit={submit}>
        <label>
          Control{' '}
          <select value={control} onChange={(e) => setControl(Number(e.currentTarget.value))}>
            {props.versions.map(option)}
          </select>
        </label>
        <label>
          Treatment{' '}
          <select value={treatment} onChange={(e) => setTreatment(Number(e.currentTarget.value))}>
            {props.versions.map(option)}
          </select>
        </label>
        <label>
          Treatment share{' '}
          <input
            type="number"
            min="0.01"
            max="0.99"
            step="0.01"
            value={share}
            onInput={(e) => setShare(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy || control === undefined || treatment === undefined}>
          Start
        </button>
      </form>
      <ErrorBox error={error} />
      <p class="muted small">
        Users are split by a hash of their id (sticky in every API process). Activating another version stops the
        experiment.
      </p>
    </Card>
  );
}
