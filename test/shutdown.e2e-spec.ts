import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import pg from 'pg';
import { sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { freePort, spawnBuilt } from './processes.js';

const REQUESTS = 20;
const BATCH = 2_000;
const RECORD = `mutation($interactions: [RecordInteractionInput!]!) { recordInteractions(interactions: $interactions) { duplicates createdUsers } }`;

/** Resolves with the connection error code, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The built server (`node dist/src/main.js`, as `npm start` runs it) receives SIGTERM while 20
 * recordInteractions batches are in flight. A lock on `interactions` (held by the test) keeps them
 * there: 10 wait for it on the pool's 10 connections, 10 wait for a connection. While they wait the
 * server refuses new connections; once the lock is released every one of them is answered with its
 * data and committed (the database pools close only after HTTP has drained), the process exits
 * within a few seconds, and every line it logged on stdout is JSON.
 */
describe('graceful shutdown of the API process', () => {
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('finishes in-flight requests on SIGTERM, then refuses connections and exits', async () => {
    await truncateAll();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = spawnBuilt('main', {
      PORT: String(port),
      RECODER_METRICS: 'true',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'log',
    });
    child = server.child;
    const { stdout, stderr } = server;
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );

    const gql = async (query: string, variables?: Record<string, unknown>) => {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as { data?: Record<string, any>; errors?: unknown[] } };
    };
    const scrape = async () => (await fetch(`${base}/metrics`)).text();
    const sample = (text: string, line: RegExp) =>
      text.split('\n').reduce((sum, l) => sum + (line.test(l) ? Number(l.slice(l.lastIndexOf(' ') + 1)) : 0), 0);

    // Up: /health answers.
    for (let until = Date.now() + 60_000; ;) {
      const ok = await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > until || child.exitCode !== null)
        throw new Error(`server did not start:\n${stderr()}\n${stdout()}`);
      await sleep(100);
    }
    const items = Array.from({ length: 50 }, (_, i) => ({ id: `s${i}` }));
    expect(
      (await gql(`mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, { items })).body.errors,
    ).toBeUndefined();

    const locker = new pg.Client({ connectionString: testDatabaseUrl() });
    locker.on('error', () => undefined); // terminated by the teardown if the test fails midway
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE interactions IN EXCLUSIVE MODE'); // reads pass, inserts wait
    let locked = true;
    const unlock = async () => {
      if (!locked) return;
      locked = false;
      await locker.query('ROLLBACK');
      await locker.end();
    };

    const batch = (k: number) =>
      Array.from({ length: BATCH }, (_, i) => ({ userId: `u${k}-${i % 200}`, itemId: `s${i % 50}` }));
    const requests = Array.from({ length: REQUESTS }, (_, k) =>
      gql(RECORD, { interactions: batch(k) }).then(
        (r) => ({ ...r, error: undefined as string | undefined }),
        (e: Error) => ({
          status: 0,
          body: {} as { data?: Record<string, any> },
          error: String((e as { cause?: unknown }).cause ?? e),
        }),
      ),
    );

    let sigterm = 0;
    try {
      // SIGTERM once the server has received every request (none can finish while the lock is held).
      for (let until = Date.now() + 60_000; ;) {
        const inFlight = sample(await scrape(), /^recoder_graphql_requests_in_flight /);
        if (inFlight === REQUESTS) break;
        if (Date.now() > until)
          throw new Error(`the server did not receive the ${REQUESTS} requests: ${inFlight} in flight`);
        await sleep(10);
      }
      sigterm = Date.now();
      child.kill('SIGTERM');
      // Draining: the process is up, its requests wait, and it takes no new connection.
      await sleep(500);
      expect(child.exitCode === null && child.signalCode === null).toBe(true);
      expect(await tryConnect(port)).toBe('ECONNREFUSED');
    } finally {
      await unlock();
    }

    const results = await Promise.all(requests);
    expect(results.map((r) => r.error ?? r.status)).toEqual(Array(REQUESTS).fill(200));
    for (const r of results)
      expect(r.body).toEqual({ data: { recordInteractions: { duplicates: 0, createdUsers: 200 } } });
    const [{ n }] = await sql<{ n: number }>('SELECT count(*)::int AS n FROM interactions');
    expect(n).toBe(REQUESTS * BATCH);

    const { code, signal, at } = await exit;
    // Nest's shutdown hooks re-raise the signal once they are done.
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    expect(at - sigterm).toBeLessThan(10_000);
    expect(await tryConnect(port)).toBe('ECONNREFUSED');

    // Structured logs: every stdout line is a JSON object with time, level, context and msg.
    const lines = stdout()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
      expect(entry).toEqual(
        expect.objectContaining({
          time: expect.any(String),
          level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/),
          context: expect.any(String),
          msg: expect.any(String),
        }),
      );
      expect(Number.isNaN(Date.parse(entry.time as string))).toBe(false);
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: 'info',
          context: 'Shutdown',
          msg: expect.stringMatching(/^HTTP server closed/),
        }),
      ]),
    );
  }, 120_000);
});
