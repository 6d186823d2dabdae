import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { PROJECT_ROOT } from '../src/config/env.js';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { applyMigrations } from '../src/database/migrations.js';
import { testDatabaseUrl } from './helpers.js';
import { freePort, spawnNpmScript, type NpmScriptProcess } from './processes.js';
import { tasteInteractions } from './training-data.js';

const DATA_DIR = path.join(PROJECT_ROOT, '.data', 'process-signals-test');
/** Generous: a clean stop takes well under a second here; Nest drains HTTP for at most 10 s. */
const STOP_LIMIT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitUntil(
  what: string,
  proc: NpmScriptProcess,
  ok: () => boolean | Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  for (const until = Date.now() + timeoutMs; !(await ok()); await sleep(100)) {
    if (proc.hasExited() || Date.now() > until)
      throw new Error(
        `${what}: not reached (${proc.hasExited() ? 'the process exited' : 'timed out'}):\n${proc.output()}`,
      );
  }
}

/** The pid of the embedded postmaster that serves DATA_DIR now. */
async function postmasterPid(): Promise<number> {
  return Number.parseInt((await readFile(path.join(DATA_DIR, 'postmaster.pid'), 'utf8')).split('\n')[0], 10);
}

/** What every clean stop must show: one "stopped" line, no FATAL, no reconnect, no error. */
function expectCleanOutput(output: string, stoppedLine: RegExp): void {
  expect(output.split('\n').filter((l) => stoppedLine.test(l))).toHaveLength(1);
  expect(output).not.toMatch(/FATAL|PANIC/);
  expect(output).not.toMatch(/reconnect|connection lost|terminating connection/i);
  expect(output).not.toMatch(/"level":"(error|fatal)"|\bERROR\b|npm error/);
}

/**
 * `npm start`, `npm run demo` and `npm run worker` stop cleanly on a signal to npm: the command
 * lines of package.json run through npm and `sh -c` as `npm run` runs them (with the build step
 * replaced, `npm test` has built), on an embedded PostgreSQL of the test's own. SIGTERM or SIGINT
 * to npm alone, or SIGINT to npm's whole process group as a terminal's Ctrl-C sends it: npm exits
 * 0 in time, the node process and the embedded postmaster are gone, one line says the process
 * stopped, and nothing logs FATAL, a lost connection or an error (the connections were closed
 * before PostgreSQL stopped).
 */
describe('processes stop cleanly on SIGINT and SIGTERM sent to npm', () => {
  let pgPort: number;
  const running: NpmScriptProcess[] = [];

  beforeAll(async () => {
    // One initialised, migrated data directory with a little data (the demo then skips its
    // import); each case starts its server on it again (a second or so).
    await rm(DATA_DIR, { recursive: true, force: true });
    pgPort = await freePort();
    const server = await startEmbeddedPostgres({ dataDir: DATA_DIR, port: pgPort });
    try {
      await applyMigrations(server.url);
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      const pairs = tasteInteractions(60);
      const users = pairs.map((p) => p.userId);
      const items = pairs.map((p) => p.itemId);
      await client.query(`INSERT INTO users (external_id) SELECT DISTINCT u FROM unnest($1::text[]) u`, [users]);
      await client.query(
        `INSERT INTO items (external_id, title) SELECT DISTINCT i, 'Item ' || i FROM unnest($1::text[]) i`,
        [items],
      );
      await client.query(
        `INSERT INTO interactions (user_id, item_id) SELECT u.id, it.id FROM unnest($1::text[], $2::text[]) p(u, i)
         JOIN users u ON u.external_id = p.u JOIN items it ON it.external_id = p.i`,
        [users, items],
      );
      await client.end();
    } finally {
      await server.stop();
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL');
    await rm(DATA_DIR, { recursive: true, force: true });
  });

  const embeddedEnv = (port: number) => ({
    DATABASE_URL: undefined,
    RECODER_EMBEDDED_PG_DIR: DATA_DIR,
    RECODER_EMBEDDED_PG_PORT: String(pgPort),
    HOST: '127.0.0.1',
    PORT: String(port),
    RECODER_AUTH: 'off',
  });

  /** Sends `signal` (to npm, or to its process group) and checks the stop. */
  async function stopAndCheck(
    proc: NpmScriptProcess,
    signal: NodeJS.Signals,
    target: 'npm' | 'group',
    stoppedLine: RegExp,
    postgres?: { pid: number },
  ) {
    // `exec` in the script line: npm's child is node itself (a shell in between would not pass
    // the signal on and would leave node and PostgreSQL running).
    const node = proc.npmChild();
    expect(node?.cmdline).toMatch(/^node dist\/(src|scripts)\/\w+\.js/);
    const t0 = Date.now();
    proc.kill(signal, target);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      proc.exit,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_LIMIT_MS))),
    ]);
    clearTimeout(timer);
    expect({ exit, output: exit === 'timeout' || exit.code !== 0 ? proc.output() : '' }).toEqual({
      exit: { code: 0, signal: null },
      output: '',
    });
    expect(Date.now() - t0).toBeLessThan(STOP_LIMIT_MS);
    expect(isAlive(node!.pid)).toBe(false);
    if (postgres) {
      expect(isAlive(postgres.pid)).toBe(false);
      expect(await connects(pgPort)).toBe(false);
    }
    expectCleanOutput(proc.output(), stoppedLine);
  }

  async function startApi(): Promise<{ proc: NpmScriptProcess; port: number; postgres: { pid: number } }> {
    const port = await freePort();
    const proc = spawnNpmScript('start', [], embeddedEnv(port));
    running.push(proc);
    await waitUntil('the API answers /health', proc, () =>
      fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      ),
    );
    const postgres = { pid: await postmasterPid() };
    expect(isAlive(postgres.pid)).toBe(true);
    return { proc, port, postgres };
  }

  it('npm start: SIGTERM to npm', async () => {
    const { proc, port, postgres } = await startApi();
    await stopAndCheck(proc, 'SIGTERM', 'npm', /Recoder API stopped \(SIGTERM\)/, postgres);
    expect(await connects(port)).toBe(false);
    expect(proc.output()).toMatch(/HTTP server closed; in-flight requests drained/);
  }, 180_000);

  it('npm start: SIGINT to npm', async () => {
    const { proc, postgres } = await startApi();
    await stopAndCheck(proc, 'SIGINT', 'npm', /Recoder API stopped \(SIGINT\)/, postgres);
  }, 180_000);

  it('npm start: Ctrl-C (SIGINT to the process group: npm, node and, unless it runs apart, PostgreSQL)', async () => {
    const { proc, postgres } = await startApi();
    await stopAndCheck(proc, 'SIGINT', 'group', /Recoder API stopped \(SIGINT\)/, postgres);
  }, 180_000);

  it('npm run demo: Ctrl-C while the demo model trains', async () => {
    const port = await freePort();
    const proc = spawnNpmScript('demo', ['--budget', '3600'], embeddedEnv(port));
    running.push(proc);
    await waitUntil('the demo trains', proc, () =>
      /training run \d+ \(AUTO: .* at most 3600 s\) queued/.test(proc.output()),
    );
    const postgres = { pid: await postmasterPid() };
    await stopAndCheck(proc, 'SIGINT', 'group', /Recoder demo stopped \(SIGINT\)/, postgres);
    expect(proc.output()).toMatch(/skipping the import/);
  }, 180_000);

  it('a script that does not handle signals (e.g. npm run import): Ctrl-C still stops the PostgreSQL it started', async () => {
    // The server runs in a session of its own, so it would outlive such a process.
    const code = `import { startEmbeddedPostgres } from ${JSON.stringify(path.join(PROJECT_ROOT, 'dist/src/database/embedded-postgres.js'))};
      await startEmbeddedPostgres({ dataDir: ${JSON.stringify(DATA_DIR)}, port: ${pgPort} });
      console.log('started');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    try {
      for (const until = Date.now() + 60_000; !out.includes('started'); await sleep(50))
        if (Date.now() > until || child.exitCode !== null) throw new Error(out);
      const postgres = await postmasterPid();
      process.kill(-child.pid!, 'SIGINT');
      expect(await exit).toBe(130); // 128 + SIGINT, as Node's default
      expect(isAlive(postgres)).toBe(false);
      expect(await connects(pgPort)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 120_000);

  it('npm run worker: SIGTERM to npm', async () => {
    const proc = spawnNpmScript('worker', [], { DATABASE_URL: testDatabaseUrl() });
    running.push(proc);
    await waitUntil('the worker is ready', proc, () => /training worker \S+ ready/.test(proc.output()));
    await stopAndCheck(proc, 'SIGTERM', 'npm', /Recoder training worker stopped \(SIGTERM\)/);
  }, 180_000);
});
