import { initBackend } from './backend.js';

describe("initBackend({ prefer: 'cpu' })", () => {
  it('uses the cpu backend and says it is slow', async () => {
    const lines: string[] = [];
    const b = await initBackend({ prefer: 'cpu', log: (m) => lines.push(m) });
    expect(b.name).toBe('cpu');
    expect(b.tf.getBackend()).toBe('cpu');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tfjs backend: cpu .*~100× slower/);
    expect((await initBackend()).name).toBe('cpu');
  });
});
