/**
 * Training yields to serving in the API process (RECODER_TRAINING_WORKER=thread): the API's main
 * thread measures its event-loop utilisation every {@link SAMPLE_MS} and raises a flag in a
 * SharedArrayBuffer while it is busy (above {@link BUSY_ELU}); the training thread, at every
 * check of its cancellation hook (after each training step, each block of EASE's solve), then
 * sleeps as long as it worked since its last pause (capped at {@link MAX_PAUSE_MS}), so training
 * takes at most about half of what it would while requests are being served, and all of it when
 * the API is idle. Nice 19 alone left serving at 0.68-0.69 of its idle throughput while AUTO
 * trained (bench:train-load): the training thread filled every gap the serving threads left,
 * and its memory traffic slowed them.
 */
import { performance } from 'node:perf_hooks';

/** Event-loop utilisation above which the API counts as serving. */
export const BUSY_ELU = 0.3;
/** How often the main thread samples its event-loop utilisation. */
export const SAMPLE_MS = 100;
/** Longest single pause of the training thread. */
export const MAX_PAUSE_MS = 250;

/** The flag (Int32Array over a SharedArrayBuffer: [busy, sleep slot]). */
export function servingPressureBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

/** Main thread: keeps the flag up to date until the returned function is called. */
export function publishServingPressure(buffer: SharedArrayBuffer): () => void {
  const flag = new Int32Array(buffer);
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    Atomics.store(flag, 0, elu > BUSY_ELU ? 1 : 0);
  }, SAMPLE_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    Atomics.store(flag, 0, 0);
  };
}

/**
 * Training thread: a function to call between units of work. While the flag is up it blocks the
 * thread (Atomics.wait, no CPU) as long as the work since its previous call took, at most
 * {@link MAX_PAUSE_MS}; otherwise it returns at once. Returns the milliseconds it slept.
 */
export function servingPressureYield(
  buffer: SharedArrayBuffer,
  now: () => number = () => performance.now(),
): () => number {
  const flag = new Int32Array(buffer);
  let since = now();
  return () => {
    const t = now();
    const worked = t - since;
    let slept = 0;
    if (Atomics.load(flag, 0) === 1 && worked > 0) {
      slept = Math.min(worked, MAX_PAUSE_MS);
      Atomics.wait(flag, 1, 0, slept);
    }
    since = now();
    return slept;
  };
}

/** The training thread's pause ({@link installServingPressure}); a no-op elsewhere (worker processes, scripts). */
export let trainingPause: () => number = () => 0;

/** Training thread: makes {@link trainingPause} follow the API's flag. */
export function installServingPressure(buffer: SharedArrayBuffer): void {
  trainingPause = servingPressureYield(buffer);
}
