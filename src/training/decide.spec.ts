import { decide } from './training-worker.service.js';
import type { Baseline } from './train-version.js';

describe('activation decision of a finished run', () => {
  const metrics = { 'ndcg@100': 0.42, users: 300 };
  const baseline = (ndcg: number | undefined): Baseline => ({
    versionId: 7,
    metrics: ndcg === undefined ? {} : { 'ndcg@100': ndcg, users: 300 },
  });

  it('IF_BETTER activates only a strictly better version, and when nothing is active', () => {
    expect(decide({ kind: 'VAE', activation: 'IF_BETTER' }, metrics, baseline(0.41))).toMatchObject({
      activate: true,
      comparison: { metric: 'ndcg@100', candidate: 0.42, active: 0.41, activeVersionId: 7, users: 300 },
      decision: 'activated (IF_BETTER): ndcg@100 0.4200 > 0.4100 of version 7',
    });
    expect(decide({ kind: 'VAE', activation: 'IF_BETTER' }, metrics, baseline(0.42)).activate).toBe(false);
    expect(decide({ kind: 'DAE', activation: 'IF_BETTER' }, metrics, baseline(0.5)).decision).toBe(
      'not activated (IF_BETTER): ndcg@100 0.4200 ≤ 0.5000 of version 7',
    );
    expect(decide({ kind: 'EASE', activation: 'IF_BETTER' }, metrics, null)).toMatchObject({
      activate: true,
      comparison: { active: null, activeVersionId: null },
    });
  });

  it('IF_BETTER keeps an active AUTOREC version it cannot compare with', () => {
    const d = decide({ kind: 'VAE', activation: 'IF_BETTER' }, metrics, baseline(undefined));
    expect(d.activate).toBe(false);
    expect(d.decision).toMatch(/version 7 \(AUTOREC\) cannot be compared/);
  });

  it('ALWAYS and NEVER ignore the comparison but record it', () => {
    expect(decide({ kind: 'VAE', activation: 'ALWAYS' }, metrics, baseline(0.9))).toMatchObject({
      activate: true,
      comparison: { active: 0.9 },
    });
    expect(decide({ kind: 'VAE', activation: 'NEVER' }, metrics, baseline(0.1))).toMatchObject({
      activate: false,
      comparison: { active: 0.1 },
    });
    expect(decide({ kind: 'AUTOREC', activation: 'ALWAYS' }, { rmse: 0.9 }, null)).toMatchObject({
      activate: true,
      comparison: null,
    });
    expect(decide({ kind: 'AUTOREC', activation: 'NEVER' }, { rmse: 0.9 }, null)).toMatchObject({
      activate: false,
      comparison: null,
    });
  });
});

describe('decide with activate: EXPERIMENT', () => {
  const metrics = { 'ndcg@100': 0.42, users: 50 };
  const active = { versionId: 7, metrics: { 'ndcg@100': 0.5 } };
  it('starts an experiment against the active version whatever the offline comparison, and activates when none is active', () => {
    expect(decide({ kind: 'VAE', activation: 'EXPERIMENT' }, metrics, active)).toMatchObject({
      activate: false,
      experiment: { controlVersionId: 7 },
      decision: 'experiment (EXPERIMENT) against active version 7; ndcg@100 0.4200 vs 0.5000 of version 7',
    });
    expect(decide({ kind: 'EASE', activation: 'EXPERIMENT' }, metrics, null)).toMatchObject({
      activate: true,
      decision: 'activated (EXPERIMENT): no version was active; ndcg@100 0.4200',
    });
    expect(decide({ kind: 'EASE', activation: 'IF_BETTER' }, metrics, active).experiment).toBeUndefined();
  });
});
