import { RecoderClient, type TrackStats } from '../clients/typescript/src/index.js';
import { sql, truncateAll } from './helpers.js';
import { RecoderServer } from './recoder-server.js';

/**
 * client.track() while the Recoder server is killed (SIGKILL: batches in flight are lost or
 * committed unanswered) and, later, stopped gracefully (SIGTERM), each time restarted on the same
 * port while the product keeps tracking. Every event track() accepted, whether it was buffered, in
 * flight or sent after the restart, must be stored exactly once: the buffer resends unanswered
 * batches with the same eventIds, and the server skips the ones it already has.
 */

const ITEMS = 40;
const EVERY_MS = 20;
const PER_TICK = 10;

describe('track() across a stalled server and server restarts', () => {
  let server: RecoderServer;

  beforeAll(async () => {
    await truncateAll();
    server = await RecoderServer.start();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await truncateAll();
  });

  it('stores every tracked event exactly once across a 3 s stall, a kill -9 and a graceful restart', async () => {
    const setup = new RecoderClient({ url: server.url });
    await setup.upsertItems(Array.from({ length: ITEMS }, (_, i) => ({ id: `tr-item-${i}` })));

    const transient: string[] = [];
    const gaveUp: string[] = [];
    const client = new RecoderClient({
      url: server.url,
      timeoutMs: 1_000,
      track: {
        batchSize: 100,
        flushIntervalMs: 50,
        maxBufferedEvents: 200_000,
        maxRetryMs: 180_000,
        retryBaseDelayMs: 50,
        maxRetryDelayMs: 1000,
        onError: (e, info) => {
          (info.willRetry ? transient : gaveUp).push(`${(e as Error).name}: ${(e as Error).message}`);
        },
      },
    });

    // The product: PER_TICK events every EVERY_MS, without ever awaiting the client.
    let n = 0;
    const producer = setInterval(() => {
      for (let k = 0; k < PER_TICK; k++, n++) {
        client.track({
          userId: `tr-user-${n % 97}`,
          itemId: `tr-item-${(n * 7) % ITEMS}`,
          kind: n % 10 === 0 ? 'PURCHASE' : 'VIEW',
        });
      }
    }, EVERY_MS);
    const ticks = async (count: number) => {
      const target = n + count * PER_TICK;
      while (n < target) await new Promise((r) => setTimeout(r, EVERY_MS));
    };

    try {
      await ticks(50);
      const storedBeforeKill = client.stats().stored;
      expect(storedBeforeKill).toBeGreaterThan(0);
      // A server that stops answering (SIGSTOP) for 3 s: requests time out in the client and are
      // resent; on SIGCONT the server runs the abandoned requests too, and the resends find their
      // events stored already (duplicates, not second rows).
      server.process.child.kill('SIGSTOP');
      await ticks(150);
      server.process.child.kill('SIGCONT');
      await ticks(50);
      const duplicatesAfterStop = client.stats().duplicates;
      const killRestartMs = await server.restart('SIGKILL');
      const trackedDuringKill = n;
      await ticks(50);
      const termRestartMs = await server.restart('SIGTERM');
      await ticks(50);
      clearInterval(producer);
      const stats: TrackStats = await client.close();

      expect(stats).toMatchObject({ tracked: n, dropped: 0, rejected: 0, failed: 0, buffered: 0 });
      // Each event acknowledged once: stored by the answered request, or found stored already by a
      // resend (its first request ran but its answer never came).
      expect(stats.stored + stats.duplicates).toBe(n);
      expect(gaveUp).toEqual([]);
      expect(duplicatesAfterStop).toBeGreaterThan(0);
      expect(stats.retries).toBeGreaterThan(0);
      expect(transient.length).toBeGreaterThan(0);
      const rows = await sql<{ event_id: string; n: number }>(
        `SELECT event_id, count(*)::int AS n FROM interactions GROUP BY event_id`,
      );
      expect(rows.filter((r) => r.n !== 1)).toEqual([]);
      expect(rows).toHaveLength(n);
      // The buffer's ids: one session prefix, sequence 1..n, each once.
      const prefix = rows[0].event_id.replace(/-\d+$/, '');
      const seqs = new Set(rows.map((r) => r.event_id.slice(prefix.length + 1)).map(Number));
      expect(rows.every((r) => r.event_id.startsWith(`${prefix}-`))).toBe(true);
      for (let s = 1; s <= n; s++) if (!seqs.has(s)) throw new Error(`event ${prefix}-${s} is missing`);
      console.log(
        `[client-track-restart] ${n} events tracked at ${(PER_TICK * 1000) / EVERY_MS}/s; SIGSTOP 3 s → ${duplicatesAfterStop} duplicates; kill -9 → back in ${killRestartMs} ms (${trackedDuringKill} tracked by then), ` +
          `SIGTERM → back in ${termRestartMs} ms; ${stats.batches} batches, ${stats.retries} resends, ${stats.duplicates} duplicates skipped by the server; ` +
          `${rows.length} rows, each event once`,
      );
    } finally {
      clearInterval(producer);
    }
  }, 300_000);
});
