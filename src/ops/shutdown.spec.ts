import { EventEmitter } from 'node:events';
import { stopOnSignals } from './shutdown.js';

function harness(timeoutMs?: number) {
  const source = new EventEmitter();
  const lines: string[] = [];
  const errors: string[] = [];
  const codes: number[] = [];
  let exited!: () => void;
  const done = new Promise<void>((resolve) => (exited = resolve));
  const stop = stopOnSignals({
    name: 'Test process',
    log: (m) => lines.push(m),
    error: (m) => errors.push(m),
    exit: (code) => {
      codes.push(code);
      exited();
    },
    source,
    timeoutMs,
  });
  return { source, lines, errors, codes, done, stop };
}

describe('stopOnSignals', () => {
  it('runs the steps once, last registered first, logs one line and exits 0', async () => {
    const h = harness();
    const order: string[] = [];
    h.stop.add(async () => {
      await new Promise((r) => setTimeout(r, 5));
      order.push('database');
    });
    h.stop.add(() => void order.push('application'));
    expect(h.stop.signal.aborted).toBe(false);
    h.source.emit('SIGINT');
    h.source.emit('SIGINT'); // npm forwards the terminal's Ctrl-C again: ignored
    h.source.emit('SIGTERM');
    expect(h.stop.signal.aborted).toBe(true);
    await h.done;
    expect(order).toEqual(['application', 'database']);
    expect(h.codes).toEqual([0]);
    expect(h.lines).toEqual([expect.stringMatching(/^Test process stopped \(SIGINT\) in \d+ ms$/)]);
    expect(h.errors).toEqual([]);
  });

  it('exits 1 naming the failure when a step throws', async () => {
    const h = harness();
    h.stop.add(() => {
      throw new Error('pool already closed');
    });
    h.source.emit('SIGTERM');
    await h.done;
    expect(h.codes).toEqual([1]);
    expect(h.lines).toEqual([]);
    expect(h.errors).toEqual([
      expect.stringContaining('failed to stop cleanly after SIGTERM: Error: pool already closed'),
    ]);
  });

  it('exits 1 when the steps outlast the timeout', async () => {
    const h = harness(50);
    h.stop.add(() => new Promise<void>(() => {}));
    h.source.emit('SIGHUP');
    await h.done;
    expect(h.codes).toEqual([1]);
    expect(h.errors).toEqual(['Test process did not stop within 0.05 s of SIGHUP: exiting']);
  });
});
