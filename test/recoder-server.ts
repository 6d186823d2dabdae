import { exited, freePort, spawnBuilt, type BuiltProcess } from './processes.js';

/**
 * A real Recoder API process (dist/src/main.js) on the test database, on a port of its own, for
 * the client's tests: start, stop (SIGTERM or SIGKILL), restart on the same port.
 */
export class RecoderServer {
  process!: BuiltProcess;
  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<RecoderServer> {
    const server = new RecoderServer(await freePort(), env);
    await server.boot();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/graphql`;
  }

  /** Starts the process and waits until it answers GraphQL; returns the milliseconds it took. */
  async boot(timeoutMs = 90_000): Promise<number> {
    this.process = spawnBuilt('main', { PORT: String(this.port), ...this.env });
    const t0 = Date.now();
    for (;;) {
      if (this.process.child.exitCode !== null)
        throw new Error(`the server exited (${this.process.child.exitCode}):\n${this.process.output()}`);
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"query":"{ __typename }"}',
        });
        // 401: answered by a server that requires an API key (GraphQL over HTTP, before validation).
        if (res.status === 200 || res.status === 401) return Date.now() - t0;
      } catch {
        // not listening yet
      }
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`the server did not answer within ${timeoutMs} ms:\n${this.process.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops the process (SIGTERM drains; SIGKILL is a crash) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited(child);
  }

  /** Stops, then boots again on the same port. */
  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    await this.stop(signal);
    return this.boot();
  }
}
