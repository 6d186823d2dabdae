import {
  publishServingPressure,
  servingPressureBuffer,
  servingPressureYield,
  MAX_PAUSE_MS,
} from './serving-pressure.js';

describe('serving pressure (training yields to serving)', () => {
  it('pauses as long as the work since the last pause while the flag is up, not at all while it is down', () => {
    const buffer = servingPressureBuffer();
    const flag = new Int32Array(buffer);
    let clock = 1000;
    const pause = servingPressureYield(buffer, () => clock);
    clock += 40; // 40 ms of work, API idle
    expect(pause()).toBe(0);
    Atomics.store(flag, 0, 1);
    clock += 30; // 30 ms of work while the API is busy
    expect(pause()).toBe(30);
    clock += 5000; // a long step: the pause is capped
    expect(pause()).toBe(MAX_PAUSE_MS);
  });

  it('the main thread raises the flag while its event loop is busy and lowers it when idle', async () => {
    const buffer = servingPressureBuffer();
    const flag = new Int32Array(buffer);
    const stop = publishServingPressure(buffer);
    const spin = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      // Busy: callbacks of 80 ms with 5 ms gaps, for 0.6 s (utilisation ≈ 0.95; the flag is sampled every 100 ms).
      let raised = false;
      for (let k = 0; k < 8 && !raised; k++) {
        spin(80);
        await sleep(5);
        raised = Atomics.load(flag, 0) === 1;
      }
      expect(raised).toBe(true);
      // Idle: nothing runs here; the flag falls within a few samples (polled for up to 10 s, since
      // a loaded machine — other test workers — can keep a sample's utilisation up for a while).
      let lowered = false;
      for (let k = 0; k < 100 && !lowered; k++) {
        await sleep(100);
        lowered = Atomics.load(flag, 0) === 0;
      }
      expect(lowered).toBe(true);
    } finally {
      stop();
    }
    expect(Atomics.load(flag, 0)).toBe(0);
  });
});
