import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';

describe('initBackend failure paths', () => {
  it("prefer 'node' without tfjs-node throws a clear message", async () => {
    await expect(initBackend({ prefer: 'node' })).rejects.toThrow(/@tensorflow\/tfjs-node is not installed/);
  });

  it("prefer 'node' whose native library fails to load throws with the cause", async () => {
    const importTfjsNode = () => Promise.reject(new Error('libtensorflow.so.2: cannot open shared object file'));
    await expect(initBackend({ prefer: 'node', importTfjsNode })).rejects.toThrow(
      /failed to load.*libtensorflow\.so\.2/,
    );
  });

  it("prefer 'node' that registers a backend which cannot initialise throws", async () => {
    const importTfjsNode = async () => {
      tf.registerBackend('tensorflow', () => {
        throw new Error('native binding missing');
      });
    };
    await expect(initBackend({ prefer: 'node', importTfjsNode })).rejects.toThrow(/'tensorflow' failed to initialise/);
    expect(tf.findBackendFactory('tensorflow')).toBeFalsy(); // removed again
  });

  it('a missing native binding inside tfjs-node is "failed to load", not "not installed"', async () => {
    const importTfjsNode = () =>
      Promise.reject(
        new Error("Cannot find module '/app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node'"),
      );
    await expect(initBackend({ prefer: 'node', importTfjsNode })).rejects.toThrow(/failed to load.*tfjs_binding\.node/);
  });

  it('auto falls back to wasm when tfjs-node is present but broken, in one log line', async () => {
    const lines: string[] = [];
    const importTfjsNode = () =>
      Promise.reject(new Error('The specified module could not be found. tfjs_binding.node'));
    const b = await initBackend({ importTfjsNode, log: (m) => lines.push(m) });
    expect(b.name).toBe('wasm');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tfjs backend: wasm .*tfjs-node: @tensorflow\/tfjs-node failed to load/);
  });
});
