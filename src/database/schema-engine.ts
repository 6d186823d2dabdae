/**
 * The schema-engine driver: Prisma's own Wasm schema engine (`@prisma/schema-engine-wasm`)
 * driven through `@prisma/adapter-pg`, with the pools, shadow databases and advisory lock it
 * needs. migrations.ts runs migrations with it.
 *
 * Work-arounds for @prisma/adapter-pg 7.10.1 when it serves the schema engine:
 * - Postgres' internal `"char"` type (OID 18, e.g. pg_constraint.contype) makes the adapter throw
 *   UnsupportedNativeDataType; merely reporting it as text makes the engine panic (it reads a
 *   char) as soon as a CHECK constraint, or on PostgreSQL 18 any NOT NULL, exists: such columns
 *   are typed Character (markCharColumns).
 * - Its `executeScript` splits scripts on every `;` (breaks string literals and function bodies,
 *   and applies a migration statement by statement): we send the whole script as one simple
 *   query, as the native engine does (one implicit transaction per migration).
 * - Its shadow database drops the database before closing the pool (the DROP fails) and, with a
 *   `connectionString`, silently connects to the main database: we create the shadow ourselves.
 * - The engine never closes its pool: we own the pools and end them (this also releases the
 *   engine's session advisory lock, `pg_advisory_lock(72707369)`, taken by applyMigrations).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import pg from 'pg';

/** `url` with its database replaced (not `{...config, database}`: a connectionString wins). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Runs one statement on its own connection (CREATE/DROP DATABASE). */
export async function adminQuery(connectionString: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

interface WasmModule {
  SchemaEngine: typeof SchemaEngine;
  __wbg_set_wasm(exports: Record<string, unknown>): void;
}

/** The bit of the WebAssembly global we use (tsconfig's lib has no WebAssembly typings). */
const { WebAssembly: wasmApi } = globalThis as unknown as {
  WebAssembly: {
    instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
  };
};

let wasmModule: Promise<WasmModule> | undefined;

/** Instantiates the engine's Wasm once per process (its package entry imports a .wasm file, which
 * Node cannot import, so we wire it up as Prisma's CLI does). */
function loadWasm(): Promise<WasmModule> {
  wasmModule ??= (async () => {
    // The engine reports Rust panics through this global (set by Prisma's CLI).
    const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: unknown };
    g.PRISMA_WASM_PANIC_REGISTRY ??= {
      message: '',
      set_message(this: { message: string }, m: string) {
        this.message = `RuntimeError: ${m}`;
      },
    };
    const require = createRequire(import.meta.url);
    const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const glue = (await import(pathToFileURL(gluePath).href)) as WasmModule;
    const bytes = await readFile(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm'));
    // The engine arms a 10 s timer around its advisory-lock query and never clears it: unref
    // such timers so that they do not keep a finished script alive for 10 s.
    const imports: Record<string, unknown> = { ...glue };
    for (const [name, fn] of Object.entries(glue)) {
      if (name.startsWith('__wbg_setTimeout_') && typeof fn === 'function') {
        imports[name] = (...args: unknown[]) => {
          const timer = fn(...args) as NodeJS.Timeout;
          timer.unref?.();
          return timer;
        };
      }
    }
    const { instance } = await wasmApi.instantiate(bytes, { './schema_engine_bg.js': imports });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return glue;
  })();
  return wasmModule;
}

interface DriverAdapterUtils {
  bindMigrationAwareSqlAdapterFactory(factory: object): object;
  ColumnTypeEnum: { Character: number };
}

/** The driver-adapter-utils that adapter-pg itself uses (not a direct dependency of ours). */
function driverAdapterUtils(): DriverAdapterUtils {
  const fromAdapter = createRequire(createRequire(import.meta.url).resolve('@prisma/adapter-pg'));
  return fromAdapter('@prisma/driver-adapter-utils') as DriverAdapterUtils;
}

/** Marks, on a result's rows array, the columns that were Postgres' internal "char" (OID 18). */
const CHAR_COLUMNS = Symbol('charColumns');

/**
 * adapter-pg rejects OID 18 (UnsupportedNativeDataType), which the engine's catalog queries
 * return (e.g. pg_constraint.contype; on PostgreSQL 18 every NOT NULL is such a row). We report
 * it as text to get past adapter-pg, remember the columns on the rows array (adapter-pg passes
 * that array through), and engineAdapter() then types them as Character, which is what the
 * engine expects (it reads them as chars, and panics on text).
 */
function markCharColumns<T>(result: T): T {
  for (const r of (Array.isArray(result) ? result : [result]) as (pg.QueryResult | undefined)[]) {
    const columns: number[] = [];
    r?.fields?.forEach((field, i) => {
      if (field.dataTypeID === 18) {
        field.dataTypeID = 25;
        columns.push(i);
      }
    });
    if (columns.length > 0 && r?.rows) Object.defineProperty(r.rows, CHAR_COLUMNS, { value: columns });
  }
  return result;
}

const clientQuery = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;

/** pg's Client with markCharColumns() applied to every (callback or promise) query result. */
class EngineClient extends pg.Client {
  override query(config: unknown, values?: unknown, callback?: unknown): never {
    if (typeof (config as { submit?: unknown } | null)?.submit === 'function') {
      return clientQuery.call(this, config, values, callback) as never; // cursors, streams
    }
    if (typeof values === 'function') [callback, values] = [values, undefined];
    if (typeof callback === 'function') {
      const done = callback as (err: Error | null, res?: unknown) => void;
      return clientQuery.call(this, config, values, (err: Error | null, res?: unknown) =>
        done(err, err ? res : markCharColumns(res)),
      ) as never;
    }
    return (clientQuery.call(this, config, values) as Promise<unknown>).then(markCharColumns) as never;
  }
}

/** One connection per pool: the engine's session advisory lock then covers all its work. */
function enginePool(connectionString: string): pg.Pool {
  return new pg.Pool({
    connectionString,
    max: 1,
    idleTimeoutMillis: 0,
    application_name: 'recoder-migrate',
    Client: EngineClient as unknown as new () => pg.ClientBase,
  });
}

interface ResultSet {
  columnTypes: number[];
  rows: unknown[] & { [CHAR_COLUMNS]?: number[] };
}
interface Queryable {
  queryRaw(query: unknown): Promise<ResultSet>;
}
interface EngineAdapter extends Queryable {
  executeScript(script: string): Promise<void>;
  startTransaction(...args: unknown[]): Promise<Queryable>;
  dispose(): Promise<void>;
}

/** Types the columns markCharColumns() found as Character (see there). */
function typeCharColumns<Q extends Queryable>(queryable: Q, character: number): Q {
  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (query) => {
    const result = await queryRaw(query);
    for (const i of result.rows[CHAR_COLUMNS] ?? []) result.columnTypes[i] = character;
    return result;
  };
  return queryable;
}

/** adapter-pg's adapter on `pool`, with the fixes described at the top of this file. */
async function engineAdapter(pool: pg.Pool, onDispose?: () => Promise<void>): Promise<EngineAdapter> {
  const character = driverAdapterUtils().ColumnTypeEnum.Character;
  // `as never`: adapter-pg brings its own copy of @types/pg.
  const adapter = typeCharColumns((await new PrismaPg(pool as never).connect()) as unknown as EngineAdapter, character);
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (...args) => typeCharColumns(await startTransaction(...args), character);
  adapter.executeScript = async (script) => {
    try {
      await pool.query(script); // no parameters: simple query protocol, multi-statement
    } catch (error) {
      const e = error as pg.DatabaseError;
      if (typeof e.code !== 'string') throw error;
      // The shape of adapter-pg's own error conversion (a DriverAdapterError, matched by name).
      throw Object.assign(new Error(e.message), {
        name: 'DriverAdapterError',
        cause: {
          kind: 'postgres',
          code: e.code,
          severity: e.severity ?? 'ERROR',
          message: e.message,
          detail: e.detail,
          column: e.column,
          hint: e.hint,
        },
      });
    }
  };
  if (onDispose) {
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await onDispose();
    };
  }
  return adapter;
}

/** Prisma Migrate's advisory lock key (the engine takes it too, on the same session: re-entrant). */
const MIGRATE_LOCK_KEY = 72707369;

export interface EngineOptions {
  /** The Prisma schema, for commands that need one. */
  schema?: { files: { path: string; content: string }[] };
  /** Take Prisma Migrate's advisory lock before the engine starts (waits for other migrators). */
  lock?: boolean;
  log: (msg: string) => void;
}

/**
 * Runs `fn` with a schema engine on `connectionString`; shadow databases (if the command needs
 * one) are created next to it. Everything is closed and dropped afterwards, even on failure.
 */
export async function withEngine<T>(
  connectionString: string,
  { schema, lock, log }: EngineOptions,
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const wasm = await loadWasm();
  const mainPool = enginePool(connectionString);
  mainPool.on('error', (err) => log(`Postgres connection error: ${err.message}`));
  const shadows = new Map<string, pg.Pool>();

  const dropShadow = async (name: string): Promise<void> => {
    const pool = shadows.get(name);
    if (!pool) return;
    shadows.delete(name);
    await pool.end(); // close before DROP, or Postgres refuses ("being accessed by other users")
    await adminQuery(connectionString, `DROP DATABASE IF EXISTS "${name}"`);
  };

  const factory = {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => engineAdapter(mainPool),
    connectToShadowDb: async () => {
      const name = `prisma_migrate_shadow_db_${randomUUID()}`;
      await adminQuery(connectionString, `CREATE DATABASE "${name}"`);
      const pool = enginePool(withDatabase(connectionString, name));
      shadows.set(name, pool);
      return engineAdapter(pool, () => dropShadow(name));
    },
  };

  const datamodels = schema?.files.map((f) => [f.path, f.content] as [string, string]);
  let engine: SchemaEngine | undefined;
  try {
    if (lock) {
      const { rows } = await mainPool.query('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATE_LOCK_KEY]);
      if (!rows[0].ok) {
        log('Another process is migrating this database: waiting for it to finish');
        await mainPool.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK_KEY]);
      }
    }
    engine = await wasm.SchemaEngine.new(
      { datamodels },
      engineLogger(log),
      driverAdapterUtils().bindMigrationAwareSqlAdapterFactory(factory),
    );
    return await fn(engine);
  } finally {
    engine?.free();
    await mainPool.end().catch(() => {});
    for (const name of [...shadows.keys()]) {
      await dropShadow(name).catch((err: Error) => log(`Could not drop shadow database ${name}: ${err.message}`));
    }
  }
}

/** The engine logs JSON lines (tracing events); forward warnings and errors. */
function engineLogger(log: (msg: string) => void): (line: string) => void {
  return (line) => {
    try {
      const event = JSON.parse(line) as { level?: string; fields?: { message?: string } };
      if ((event.level === 'WARN' || event.level === 'ERROR') && event.fields?.message) {
        log(`schema engine: ${event.fields.message}`);
      }
    } catch {
      // not JSON: ignore
    }
  };
}
