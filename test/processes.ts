import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/config/env.js';
import { testDatabaseUrl } from './helpers.js';

/** A built entry point running as its own process, with what it printed. */
export interface BuiltProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** stderr then stdout, for failure messages. */
  output: () => string;
}

/**
 * Runs `dist/src/<entry>.js` (as `npm start` / `npm run worker` do) on the test database: production
 * defaults, open API, no rate limit, no training thread; `env` overrides. Run `npm run build` first
 * (`npm test` does).
 */
export function spawnBuilt(entry: 'main' | 'worker', env: Record<string, string> = {}): BuiltProcess {
  const script = path.join(PROJECT_ROOT, 'dist', 'src', `${entry}.js`);
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` (npm test does it first)`);
  const child = spawn(process.execPath, [script], {
    env: {
      ...process.env,
      DATABASE_URL: testDatabaseUrl(),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      LOG_LEVEL: 'error',
      RECODER_AUTH: 'off',
      RECODER_TRAINING_WORKER: 'off',
      RECODER_RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, stdout: () => out, stderr: () => err, output: () => `${err}\n${out}` };
}

/** How the process ended: the signal that killed it, or its exit code. */
export function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve(child.signalCode ?? child.exitCode)
      : child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
}

/** A TCP port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** An npm script running through npm (see {@link spawnNpmScript}). */
export interface NpmScriptProcess {
  /** npm's process (the leader of a process group of its own). */
  child: ChildProcess;
  /** stderr and stdout, interleaved as they arrived. */
  output: () => string;
  /** How npm ended. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited: () => boolean;
  /** npm's child process now (with `exec` in the script line: node itself) and its command line. */
  npmChild: () => { pid: number; cmdline: string } | undefined;
  /** Sends a signal to npm alone, or to its whole process group (as a terminal's Ctrl-C does). */
  kill: (signal: NodeJS.Signals, target?: 'npm' | 'group') => void;
}

/**
 * Runs `npm run <script>` as a user does (npm → `sh -c "<the package.json line>"`), through
 * `npm exec --call` with the line's leading `npm run build --silent` replaced by `true` (npm test
 * builds first; a build per case would take a minute here), in a process group of its own.
 * `env` entries that are undefined are removed from the environment.
 */
export function spawnNpmScript(
  script: 'start' | 'demo' | 'worker',
  args: string[],
  env: Record<string, string | undefined>,
): NpmScriptProcess {
  const line = (
    JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts[script];
  const build = 'npm run build --silent && ';
  if (!line.startsWith(build))
    throw new Error(`package.json scripts.${script} no longer starts with "${build}": ${line}`);
  const command = ['true && ' + line.slice(build.length), ...args].join(' ');
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn('npm', ['exec', '--call', command], {
    cwd: PROJECT_ROOT,
    env: childEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let done = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => out,
    exit,
    hasExited: () => done,
    npmChild: () => {
      const pid = childPids(child.pid!)[0];
      if (pid === undefined) return undefined;
      return { pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() };
    },
    kill: (signal, target = 'npm') => {
      if (done) return;
      try {
        process.kill(target === 'group' ? -child.pid! : child.pid!, signal);
      } catch {
        // already gone
      }
    },
  };
}

/** The pids whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
