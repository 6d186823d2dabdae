/** The signals that stop a Recoder process cleanly (Ctrl-C, `kill`, a closed terminal). */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export type StopSignal = (typeof STOP_SIGNALS)[number];

export interface ProcessStop {
  /** Aborted as soon as a stop signal arrived (long-running loops check it). */
  readonly signal: AbortSignal;
  /**
   * Registers a shutdown step. Steps run one after another in reverse order of registration: what
   * was opened last is closed first (the application before the database it uses).
   */
  add(step: () => Promise<void> | void): void;
}

export interface StopOptions {
  /** Names the process in the final line, e.g. "Recoder API". */
  name: string;
  log: (message: string) => void;
  error: (message: string) => void;
  /** The whole shutdown may take this long before the process exits with code 1 (default 30 s). */
  timeoutMs?: number;
  /** For tests: what ends the process (default process.exit). */
  exit?: (code: number) => void;
  /** For tests: where the signals come from (default process). */
  source?: NodeJS.EventEmitter;
}

/**
 * Stops the process cleanly on SIGINT, SIGTERM or SIGHUP, instead of Node's default (dying at once,
 * leaving an embedded PostgreSQL and open connections behind): runs the registered steps once,
 * logs ONE line saying the process stopped, and exits with code 0; a failing step, or steps still
 * running after `timeoutMs`, log the reason and exit with code 1. Signals that arrive while
 * stopping are ignored: a terminal's Ctrl-C reaches both npm and node, and npm forwards it again.
 */
export function stopOnSignals(options: StopOptions): ProcessStop {
  const {
    name,
    log,
    error,
    timeoutMs = 30_000,
    exit = (code: number) => process.exit(code),
    source = process,
  } = options;
  const steps: (() => Promise<void> | void)[] = [];
  const controller = new AbortController();

  const stop = async (signal: StopSignal): Promise<void> => {
    if (controller.signal.aborted) return;
    controller.abort();
    const t0 = performance.now();
    const timer = setTimeout(() => {
      error(`${name} did not stop within ${timeoutMs / 1000} s of ${signal}: exiting`);
      exit(1);
    }, timeoutMs);
    timer.unref();
    try {
      for (const step of steps.reverse()) await step();
    } catch (e) {
      clearTimeout(timer);
      error(
        `${name} failed to stop cleanly after ${signal}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      exit(1);
      return;
    }
    clearTimeout(timer);
    log(`${name} stopped (${signal}) in ${Math.round(performance.now() - t0)} ms`);
    exit(0);
  };
  for (const signal of STOP_SIGNALS) source.on(signal, () => void stop(signal));

  return {
    signal: controller.signal,
    add: (step) => void steps.push(step),
  };
}
