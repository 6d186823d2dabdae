/**
 * Worker-thread entry of the image decoder pool (src/images/decode-pool.ts): says it is ready once
 * loaded, then runs normaliseImage on each job and answers with the result (pixels transferred, not copied) or the rejection's
 * reason and message, so the pool can rebuild the ImageRejected on the other side.
 */
import { parentPort } from 'node:worker_threads';
import { ImageRejected } from './image-decode.js';
import { normaliseImage } from './normalise.js';
import type { DecodeJob, DecodeReply } from './decode-pool.js';

if (!parentPort) throw new Error('decode-worker.js runs as a worker thread (src/images/decode-pool.ts)');
const port = parentPort;

port.on('message', (job: DecodeJob) => {
  let reply: DecodeReply;
  try {
    const image = normaliseImage(job.bytes, job.options);
    reply = { id: job.id, ok: true, image };
    const { pixels } = image;
    const whole = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength;
    port.postMessage(reply, whole ? [pixels.buffer as ArrayBuffer] : []);
    return;
  } catch (error) {
    reply =
      error instanceof ImageRejected
        ? { id: job.id, ok: false, reason: error.reason, message: error.message }
        : { id: job.id, ok: false, message: String((error as Error)?.stack ?? error) };
  }
  port.postMessage(reply);
});

port.postMessage({ ready: true } satisfies DecodeReply);
