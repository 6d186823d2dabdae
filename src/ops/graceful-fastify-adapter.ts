import { Logger } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyServerOptions } from 'fastify';

/** In-flight requests get this long to finish at shutdown; then their connections are closed. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * FastifyAdapter that drains HTTP before anything else shuts down. Nest's shutdown sequence runs
 * the modules' destroy hooks (which end the database pools) before it closes the HTTP server, so
 * requests in flight at SIGTERM would fail, and Fastify's close() then waits up to its keep-alive
 * timeout (72 s) for the connections of those requests. Here `beforeClose`, which Nest awaits
 * first, stops accepting connections, closes idle keep-alive ones, answers the requests in flight
 * (and any that arrive on their connections meanwhile) with `Connection: close`, and returns once
 * every connection has ended (at most DRAIN_TIMEOUT_MS). Nest's close() then finds the server
 * closed, which Fastify tolerates.
 */
export class GracefulFastifyAdapter extends FastifyAdapter {
  private draining = false;

  constructor(options?: FastifyServerOptions) {
    super(options);
    this.getInstance().addHook('onSend', (_request, reply, payload, done) => {
      if (this.draining) reply.header('connection', 'close');
      done(null, payload);
    });
  }

  override async beforeClose(): Promise<void> {
    super.beforeClose();
    this.draining = true;
    const server = this.getHttpServer();
    if (!server?.listening) return;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        new Logger('Shutdown').warn(
          `requests still in flight after ${DRAIN_TIMEOUT_MS / 1000} s: closing their connections`,
        );
        server.closeAllConnections();
      }, DRAIN_TIMEOUT_MS);
      // Node's close() also closes the idle keep-alive connections; the callback waits for the rest.
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    new Logger('Shutdown').log(
      `HTTP server closed; in-flight requests drained in ${Math.round(performance.now() - t0)} ms`,
    );
  }
}
