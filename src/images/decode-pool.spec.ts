import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { stripedPng } from '../../test/image-fixtures.js';
import { decodeWorkerEntry, ImageDecodePool, ImageDecoderBusy } from './decode-pool.js';
import { ImageRejected } from './image-decode.js';
import { normaliseImage, type NormaliseOptions } from './normalise.js';

// The pool runs the compiled worker (dist/src/images/decode-worker.js): `npm test` builds first.

function png(width: number, height: number, f: (x: number, y: number) => [number, number, number, number]): Buffer {
  const image = new pngjs.PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) image.data.set(f(x, y), (y * width + x) * 4);
  return pngjs.PNG.sync.write(image);
}
function jpg(width: number, height: number, f: (x: number, y: number) => [number, number, number]): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...f(x, y), 255], (y * width + x) * 4);
  return jpeg.encode({ width, height, data }, 90).data;
}
const RGB: NormaliseOptions = { size: 32, channels: 3, maxBytes: 2 * 1024 * 1024 };
const GRAY: NormaliseOptions = { ...RGB, size: 16, channels: 1 };
const NOISY_PNG = png(97, 61, (x, y) => [(x * 37 + y * 11) & 255, (x * y) & 255, (x ^ y) & 255, (x * 5 + y) & 255]);
const NOISY_JPG = jpg(50, 70, (x, y) => [(x * 9) & 255, (y * 13) & 255, (x * y) & 255]);
/** ≈0.5 s of decoding: keeps the thread busy while other jobs queue behind it. */
const SLOW_PNG = stripedPng(4096, 4096);

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

function syncRejection(fn: () => unknown): ImageRejected {
  try {
    fn();
  } catch (error) {
    if (error instanceof ImageRejected) return error;
    throw error;
  }
  throw new Error('expected an ImageRejected');
}

describe('ImageDecodePool', () => {
  let pool: ImageDecodePool;
  afterEach(async () => {
    await pool?.destroy();
  });

  it('resolves the worker entry to the compiled decode-worker.js', () => {
    expect(decodeWorkerEntry()).toMatch(/dist[/\\]src[/\\]images[/\\]decode-worker\.js$/);
  });

  it('starts its thread on first use and returns exactly what normaliseImage returns', async () => {
    pool = new ImageDecodePool();
    expect(pool.liveThreads).toBe(0);
    for (const [bytes, options] of [
      [NOISY_PNG, RGB],
      [NOISY_PNG, GRAY],
      [NOISY_JPG, RGB],
      [NOISY_JPG, GRAY],
    ] as const) {
      const expected = normaliseImage(bytes, options);
      const actual = await pool.normalise(bytes, options);
      expect(actual).toEqual(expected);
      expect(Buffer.from(actual.pixels).equals(Buffer.from(expected.pixels))).toBe(true);
      expect(actual.pixels).toBeInstanceOf(Uint8Array);
    }
    expect(pool.liveThreads).toBe(1);
    expect(NOISY_PNG.buffer.byteLength).toBeGreaterThan(0); // the caller's buffer is copied, not transferred (detached)
  });

  it('rebuilds ImageRejected with the same reason and message', async () => {
    pool = new ImageDecodePool();
    const hugePng = png(2, 2, () => [1, 2, 3, 255]);
    hugePng.writeUInt32BE(5000, 16);
    const cases: [Uint8Array, NormaliseOptions][] = [
      [Buffer.alloc(0), RGB],
      [Buffer.alloc(100), { ...RGB, maxBytes: 50 }],
      [Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'), RGB],
      [hugePng, RGB],
      [NOISY_PNG.subarray(0, 60), RGB],
      [Buffer.from([0xff, 0xd8, 0xff, 0xd9]), RGB],
      [NOISY_PNG, { ...RGB, maxDimension: 64 }],
    ];
    const reasons: string[] = [];
    for (const [bytes, options] of cases) {
      const expected = syncRejection(() => normaliseImage(bytes, options));
      const actual = await rejection(pool.normalise(bytes, options));
      expect(actual).toBeInstanceOf(ImageRejected);
      expect({ reason: (actual as ImageRejected).reason, message: actual.message }).toEqual({
        reason: expected.reason,
        message: expected.message,
      });
      reasons.push(expected.reason);
    }
    expect(new Set(reasons)).toEqual(new Set(['empty', 'too-large', 'unsupported-format', 'dimensions', 'corrupt']));
    expect(pool.liveThreads).toBe(1); // rejections do not cost the thread
  });

  it('terminates a job over its time limit (reason timeout) and replaces the thread for later jobs', async () => {
    // A worker entry that never answers a one-byte 0x01 image (a busy loop) and is the real decoder
    // otherwise: the time limit is the only way out, however loaded the machine is, and the limit
    // can be generous for the real images decoded around it.
    const dir = await mkdtemp(path.join(tmpdir(), 'recoder-decode-pool-'));
    try {
      await writeFile(
        path.join(dir, 'hang.mjs'),
        `import { parentPort } from 'node:worker_threads';\nparentPort.on('message', (m) => { if (m.bytes.length === 1 && m.bytes[0] === 1) for (;;); });\n`,
      );
      const entry = path.join(dir, 'hanging-worker.mjs');
      await writeFile(
        entry,
        `import './hang.mjs';\nimport ${JSON.stringify(pathToFileURL(decodeWorkerEntry()).href)};\n`,
      );
      pool = new ImageDecodePool({ entry, timeoutMs: 1500 });
      expect(await pool.normalise(NOISY_PNG, RGB)).toEqual(normaliseImage(NOISY_PNG, RGB));
      const error = await rejection(pool.normalise(new Uint8Array([1]), RGB));
      expect(error).toBeInstanceOf(ImageRejected);
      expect(error).toMatchObject({ reason: 'timeout', message: 'took longer than 1.5 s to decode' });
      expect(pool.liveThreads).toBe(0);
      expect(await pool.normalise(NOISY_JPG, RGB)).toEqual(normaliseImage(NOISY_JPG, RGB));
      expect(pool.liveThreads).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails the job of a crashed thread cleanly and carries on with a new thread', async () => {
    // A worker entry that dies on a one-byte 0x00 image and is the real decoder otherwise.
    const dir = await mkdtemp(path.join(tmpdir(), 'recoder-decode-pool-'));
    try {
      // Static imports, evaluated in order: the crash listener comes first, then the decoder's own.
      await writeFile(
        path.join(dir, 'crash.mjs'),
        `import { parentPort } from 'node:worker_threads';\nparentPort.on('message', (m) => { if (m.bytes.length === 1 && m.bytes[0] === 0) process.exit(7); });\n`,
      );
      const entry = path.join(dir, 'crashing-worker.mjs');
      await writeFile(
        entry,
        `import './crash.mjs';\nimport ${JSON.stringify(pathToFileURL(decodeWorkerEntry()).href)};\n`,
      );
      pool = new ImageDecodePool({ entry });
      const queued = [pool.normalise(new Uint8Array([0]), RGB), pool.normalise(NOISY_PNG, RGB)];
      const crashed = await rejection(queued[0]);
      expect(crashed).not.toBeInstanceOf(ImageRejected);
      expect(crashed.message).toBe('the image decoder thread exited (code 7)');
      expect(await queued[1]).toEqual(normaliseImage(NOISY_PNG, RGB)); // the job waiting behind it ran on a new thread
      expect(pool.liveThreads).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bounds the queue: one job more than threads + maxQueue is refused at once', async () => {
    pool = new ImageDecodePool({ threads: 1, maxQueue: 2 });
    const accepted = [pool.normalise(SLOW_PNG, RGB), pool.normalise(NOISY_PNG, RGB), pool.normalise(NOISY_JPG, RGB)];
    expect(pool.waiting).toBe(2);
    const busy = await rejection(pool.normalise(NOISY_PNG, RGB));
    expect(busy).toBeInstanceOf(ImageDecoderBusy);
    expect(busy.message).toBe('the image decoder is busy (2 images waiting)');
    const results = await Promise.all(accepted);
    expect(results.map((r) => r.sourceType)).toEqual(['png', 'png', 'jpeg']);
    expect(await pool.normalise(NOISY_PNG, RGB)).toEqual(normaliseImage(NOISY_PNG, RGB)); // room again
  });

  it('runs up to `threads` jobs at once', async () => {
    pool = new ImageDecodePool({ threads: 2, maxQueue: 0 });
    const both = [pool.normalise(NOISY_PNG, RGB), pool.normalise(NOISY_JPG, RGB)];
    expect(pool.liveThreads).toBe(2);
    expect(await rejection(pool.normalise(NOISY_PNG, RGB))).toBeInstanceOf(ImageDecoderBusy);
    await Promise.all(both);
  });

  it('destroy() fails running and waiting jobs and refuses new ones', async () => {
    pool = new ImageDecodePool();
    const running = rejection(pool.normalise(SLOW_PNG, RGB));
    const waiting = rejection(pool.normalise(NOISY_PNG, RGB));
    await pool.destroy();
    expect((await running).message).toBe('the image decoder is shut down');
    expect((await waiting).message).toBe('the image decoder is shut down');
    expect((await rejection(pool.normalise(NOISY_PNG, RGB))).message).toBe('the image decoder is shut down');
    expect(pool.liveThreads).toBe(0);
  });
});
