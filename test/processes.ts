import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
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
    child.exitCode !== null || child.signalCode !== null ? resolve(child.signalCode ?? child.exitCode) : child.once('exit', (code, signal) => resolve(signal ?? code)),
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
