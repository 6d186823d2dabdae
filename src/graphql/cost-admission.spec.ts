import { CostAdmission } from './cost-admission.js';

describe('CostAdmission', () => {
  it('admits operations while their costs fit the budget, refuses the one that would exceed it', () => {
    const a = new CostAdmission(1000);
    expect(a.tryAcquire(600)).toBe(true);
    expect(a.tryAcquire(300)).toBe(true);
    expect(a.tryAcquire(200)).toBe(false);
    expect(a.refused).toBe(1);
    expect(a.cost).toBe(900);
    expect(a.tryAcquire(100)).toBe(true); // cheap ones still fit
    a.release(600);
    expect(a.tryAcquire(200)).toBe(true);
    expect(a.cost).toBe(600);
  });

  it('always admits one operation when none runs, even above the budget', () => {
    const a = new CostAdmission(100);
    expect(a.tryAcquire(5000)).toBe(true);
    expect(a.tryAcquire(1)).toBe(false);
    a.release(5000);
    expect(a.cost).toBe(0);
    expect(a.tryAcquire(1)).toBe(true);
  });

  it('runs operations above `largeAbove` one at a time while cheaper ones share the budget', () => {
    const a = new CostAdmission(20_000, 5_000);
    expect(a.tryAcquire(9_000)).toBe(true);
    expect(a.tryAcquire(6_000)).toBe(false); // a second large one, though the budget has room
    expect(a.tryAcquire(5_000)).toBe(true); // not above largeAbove
    expect(a.tryAcquire(200)).toBe(true);
    a.release(9_000);
    expect(a.tryAcquire(6_000)).toBe(true);
    expect(a.cost).toBe(11_200);
  });

  it('never goes below zero on an extra release', () => {
    const a = new CostAdmission(10);
    a.release(5);
    expect(a.cost).toBe(0);
    expect(() => new CostAdmission(0)).toThrow(/maxCost/);
  });
});
