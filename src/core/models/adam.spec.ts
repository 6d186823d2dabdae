import { Adam } from './adam.js';

describe('Adam', () => {
  it('matches torch.optim.Adam (lr 0.1, weight_decay 0.05) step by step', () => {
    // Expected values printed by PyTorch 1.13:
    //   p = torch.tensor([0.5, -1.0, 2.0, 0.0]); opt = torch.optim.Adam([p], lr=0.1, weight_decay=0.05)
    //   for g in grads: p.grad = torch.tensor(g); opt.step()
    const p = Float32Array.from([0.5, -1.0, 2.0, 0.0]);
    const grads = [
      [0.1, -0.2, 0.3, 1.0],
      [-0.5, 0.4, 0.0, 2.0],
      [1.0, 1.0, -1.0, -3.0],
    ];
    const expected = [
      [0.400000036, -0.900000036, 1.89999998, -0.0999999866],
      [0.455135912, -0.92228353, 1.81760621, -0.196544856],
      [0.416241437, -0.987563848, 1.8495996, -0.189649925],
    ];
    const adam = new Adam([4], { learningRate: 0.1, weightDecay: 0.05 });
    for (let t = 0; t < grads.length; t++) {
      adam.nextStep();
      adam.update(0, p, Float32Array.from(grads[t]));
      for (let i = 0; i < 4; i++) expect(p[i]).toBeCloseTo(expected[t][i], 6);
    }
    expect(adam.step).toBe(3);
  });

  it('rejects a gradient of the wrong length', () => {
    const adam = new Adam([3], { learningRate: 0.1 });
    adam.nextStep();
    expect(() => adam.update(0, new Float32Array(3), new Float32Array(2))).toThrow(/3 values, gradient 2/);
  });
});
