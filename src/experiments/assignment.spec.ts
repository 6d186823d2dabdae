import { assignArm } from './assignment.js';

describe('assignArm', () => {
  it('is sticky and follows the weights', () => {
    const counts = [0, 0];
    for (let u = 0; u < 20_000; u++) {
      const a = assignArm(7, `user-${u}`, [0.8, 0.2]);
      expect(assignArm(7, `user-${u}`, [0.8, 0.2])).toBe(a);
      counts[a]++;
    }
    // Binomial(20,000, 0.2): sd ≈ 57; 6 sd either side.
    expect(Math.abs(counts[1] - 4000)).toBeLessThan(340);
  });

  it('splits three arms by relative weights and differs between experiments', () => {
    const counts = [0, 0, 0];
    let same = 0;
    for (let u = 0; u < 30_000; u++) {
      const a = assignArm(1, `s${u}`, [1, 1, 2]);
      counts[a]++;
      if (assignArm(2, `s${u}`, [1, 1, 2]) === a) same++;
    }
    expect(Math.abs(counts[2] - 15_000)).toBeLessThan(600);
    expect(Math.abs(counts[0] - 7500)).toBeLessThan(500);
    // Independent assignments agree with probability ¼ + ¼ + ¼·… = 0.375 for weights ¼, ¼, ½.
    expect(Math.abs(same / 30_000 - 0.375)).toBeLessThan(0.03);
  });
});
