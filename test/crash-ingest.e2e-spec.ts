import type { ChildProcess } from 'node:child_process';
import { sql, truncateAll } from './helpers.js';
import { exited, freePort, spawnBuilt, type BuiltProcess } from './processes.js';

/**
 * kill -9 of the API server while 4 clients stream acknowledged recordInteractions batches over
 * real HTTP. A batch is one transaction, so after the crash every acknowledged batch must be
 * stored exactly once and every other batch completely or not at all; resending the
 * unacknowledged batches (and a few acknowledged ones, as a client retry would) after a restart
 * stores each event exactly once, the `duplicates` counts naming what was already there.
 */

const CLIENTS = 4;
const BATCH = 200;
const ITEMS = 50;
const KILL_AFTER_MS = 2_000;

const RECORD = `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { duplicates createdUsers stored { eventId } } }`;

interface Batch {
  key: string;
  events: { userId: string; itemId: string; kind: string; eventId: string }[];
  /** HTTP 200 with data and no errors. */
  acknowledged: boolean;
  /** Sent, and no answer (the connection broke): its outcome is unknown to the client. */
  inFlight: boolean;
}

const startServer = (port: number): BuiltProcess => spawnBuilt('main', { PORT: String(port) });

async function post(
  port: number,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

async function waitReady(port: number, server: BuiltProcess, timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (server.child.exitCode !== null)
      throw new Error(`the server exited (${server.child.exitCode}):\n${server.output()}`);
    try {
      const res = await post(port, '{ __typename }');
      if (res.status === 200) return Date.now() - t0;
    } catch {
      // not listening yet
    }
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`the server did not answer within ${timeoutMs} ms:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stored rows per event id of the run (`ck-` prefix). */
async function storedCounts(): Promise<Map<string, number>> {
  const rows = await sql<{ event_id: string; n: number }>(
    `SELECT event_id, count(*)::int AS n FROM interactions WHERE event_id LIKE 'ck-%' GROUP BY event_id`,
  );
  return new Map(rows.map((r) => [r.event_id, r.n]));
}

describe('kill -9 during a stream of recordInteractions batches', () => {
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    await truncateAll();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await truncateAll();
  });

  it('acknowledged batches are stored exactly once, the others all-or-nothing; resending after a restart stores every event once', async () => {
    const port = await freePort();
    let server = startServer(port);
    children.push(server.child);
    const bootMs = await waitReady(port, server);

    const items = Array.from({ length: ITEMS }, (_, i) => ({ id: `ck-item-${i}`, title: `Crash item ${i}` }));
    const upsert = await post(port, `mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, {
      items,
    });
    expect(upsert.body.errors).toBeUndefined();

    // 4 clients, each sending its next batch as soon as the previous one is answered.
    const batches: Batch[] = [];
    let stop = false;
    const client = async (c: number) => {
      for (let b = 0; !stop; b++) {
        const key = `ck-c${c}-b${b}`;
        const events = Array.from({ length: BATCH }, (_, e) => ({
          userId: `ck-user-${c}-${(b * 7 + e) % 40}`,
          itemId: `ck-item-${(b * 13 + e * 3 + c) % ITEMS}`,
          kind: e % 5 === 0 ? 'PURCHASE' : 'VIEW',
          eventId: `${key}-e${e}`,
        }));
        const batch: Batch = { key, events, acknowledged: false, inFlight: true };
        batches.push(batch);
        try {
          const res = await post(port, RECORD, { interactions: events });
          batch.inFlight = false;
          batch.acknowledged =
            res.status === 200 && res.body.data?.recordInteractions != null && res.body.errors === undefined;
          if (!batch.acknowledged)
            throw new Error(
              `batch ${key} answered without an acknowledgement: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`,
            );
          expect(res.body.data.recordInteractions.stored).toHaveLength(BATCH);
        } catch (error) {
          if (!stop) throw error; // before the kill every batch must succeed
          return; // the connection broke: this batch's outcome is unknown
        }
      }
    };
    const started = Date.now();
    const loops = Array.from({ length: CLIENTS }, (_, c) => client(c));
    const killAt = KILL_AFTER_MS + Math.floor(Math.random() * 500); // an arbitrary moment
    await new Promise((r) => setTimeout(r, killAt));
    stop = true;
    server.child.kill('SIGKILL');
    const loopsDone = Promise.allSettled(loops);
    expect(await exited(server.child)).toBe('SIGKILL');
    const settled = await loopsDone;
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    const killedAfterMs = Date.now() - started;

    // Straight after the crash: acknowledged ⇒ all events stored once; otherwise all or nothing.
    const acknowledged = batches.filter((b) => b.acknowledged);
    const unacknowledged = batches.filter((b) => !b.acknowledged);
    expect(acknowledged.length).toBeGreaterThan(CLIENTS);
    expect(unacknowledged.every((b) => b.inFlight)).toBe(true);
    const afterCrash = await storedCounts();
    for (const b of acknowledged)
      for (const e of b.events) expect([b.key, afterCrash.get(e.eventId)]).toEqual([b.key, 1]);
    let completeUnacknowledged = 0;
    for (const b of unacknowledged) {
      const found = b.events.filter((e) => afterCrash.has(e.eventId)).length;
      expect([b.key, found === 0 || found === BATCH]).toEqual([b.key, true]); // never a partial batch
      for (const e of b.events) expect(afterCrash.get(e.eventId) ?? 0).toBeLessThanOrEqual(1);
      if (found === BATCH) completeUnacknowledged++;
    }
    const totalAfterCrash = (
      await sql<{ n: number }>(`SELECT count(*)::int AS n FROM interactions WHERE event_id LIKE 'ck-%'`)
    )[0].n;
    expect(totalAfterCrash).toBe((acknowledged.length + completeUnacknowledged) * BATCH);

    // Restart; resend what was not acknowledged, and a few acknowledged batches (a client retry).
    server = startServer(port);
    children.push(server.child);
    const restartMs = await waitReady(port, server);
    const retried = acknowledged
      .filter((_, k) => k % Math.max(1, Math.floor(acknowledged.length / 5)) === 0)
      .slice(0, 5);
    let duplicates = 0;
    for (const b of [...unacknowledged, ...retried]) {
      const before = b.events.filter((e) => afterCrash.has(e.eventId)).length;
      const res = await post(port, RECORD, { interactions: b.events });
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      const r = res.body.data.recordInteractions;
      expect([b.key, r.duplicates, r.stored.length]).toEqual([b.key, before, BATCH - before]);
      duplicates += r.duplicates;
    }
    const final = await storedCounts();
    for (const b of batches)
      for (const e of b.events) expect([e.eventId, final.get(e.eventId)]).toEqual([e.eventId, 1]);
    const totalFinal = (
      await sql<{ n: number }>(`SELECT count(*)::int AS n FROM interactions WHERE event_id LIKE 'ck-%'`)
    )[0].n;
    expect(totalFinal).toBe(batches.length * BATCH);

    server.child.kill('SIGTERM');
    await exited(server.child);
    console.log(
      `[crash-ingest] ${CLIENTS} clients × ${BATCH}-event batches over HTTP, SIGKILL after ${killedAfterMs} ms (boot ${bootMs} ms): ` +
        `${acknowledged.length} acknowledged batches (${acknowledged.length * BATCH} events) all stored exactly once; ` +
        `${unacknowledged.length} in flight at the kill: ${completeUnacknowledged} found complete, ${unacknowledged.length - completeUnacknowledged} absent, 0 partial; ` +
        `restart ${restartMs} ms; resent ${unacknowledged.length} unacknowledged + ${retried.length} acknowledged batches: ` +
        `${duplicates} duplicates reported (expected ${(completeUnacknowledged + retried.length) * BATCH}); ` +
        `${totalFinal} events stored = ${batches.length} batches × ${BATCH}, each once`,
    );
    expect(duplicates).toBe((completeUnacknowledged + retried.length) * BATCH);
  }, 120_000);
});
