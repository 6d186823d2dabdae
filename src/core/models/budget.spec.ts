import { planTraining } from './budget.js';

describe('planTraining', () => {
  it('gives small data sets enough optimizer steps: ≈10 steps an epoch, ≈3,000 steps in all', () => {
    const plan = planTraining(550); // ml-latest-small's training users
    expect(plan).toEqual({ batchSize: 55, epochs: 200, patience: 40, stepsPerEpoch: 10 });
    expect(plan.epochs * plan.stepsPerEpoch).toBeGreaterThanOrEqual(2000);
  });

  it('keeps Liang et al.’s batch of 500 on ML-1M-sized data', () => {
    const plan = planTraining(5040);
    expect(plan.batchSize).toBe(500);
    expect(plan.stepsPerEpoch).toBe(11);
    expect(plan.epochs).toBe(200);
  });

  it('does not run 200 long epochs on 100k users', () => {
    const plan = planTraining(100_000);
    expect(plan.batchSize).toBe(500);
    expect(plan.epochs).toBe(20);
    expect(plan.epochs * plan.stepsPerEpoch).toBe(4000);
    expect(plan.patience).toBe(10);
  });

  it('has a floor on the batch size for tiny data and keeps explicit requests as given', () => {
    expect(planTraining(40).batchSize).toBe(32);
    expect(planTraining(40).stepsPerEpoch).toBe(2);
    expect(planTraining(5040, { epochs: 7, batchSize: 100, patience: 3 })).toEqual({
      batchSize: 100,
      epochs: 7,
      patience: 3,
      stepsPerEpoch: 51,
    });
  });

  it('rejects nonsense', () => {
    expect(() => planTraining(0)).toThrow(/users/);
    expect(() => planTraining(10, { batchSize: 0 })).toThrow(/batchSize/);
  });
});
