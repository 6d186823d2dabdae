import { inspect } from 'node:util';
import { isMainThread, threadId } from 'node:worker_threads';
import type { LoggerService, LogLevel } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger as Pino } from 'pino';
import type { Env } from '../config/env.js';

const NEST_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

/** Nest's levels up to `level` (ConsoleLogger, LOG_FORMAT=pretty). */
export function loggerLevels(level: Env['logLevel']) {
  return NEST_LEVELS.slice(0, NEST_LEVELS.indexOf(level) + 1);
}

/** Nest level → pino level (Nest's `log` is pino's `info`, `verbose` is `trace`). */
const PINO_LEVEL: Record<LogLevel, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/** A stack as Nest passes it to `error(message, stack, context)`. */
const STACK = /\n\s+at /;

/**
 * Nest LoggerService writing one JSON line per message through pino:
 * `{"level":"info","time":"…","pid":…,"context":"Models","msg":"…"}`, plus `err` (type, message,
 * stack) for errors and `thread` in worker threads. Nest's call convention: the last string
 * parameter is the context; for `error`, a stack-shaped string before it is the stack.
 */
export class JsonLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** The most verbose of `levels` becomes pino's threshold. */
  setLogLevels(levels: LogLevel[]): void {
    const order: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];
    const lowest = order.find((l) => levels.includes(l));
    this.pino.level = lowest ? PINO_LEVEL[lowest] : 'silent';
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    const fields: Record<string, unknown> = {};
    if (rest.length > 0 && typeof rest[rest.length - 1] === 'string') fields.context = rest.pop();
    if (
      (level === 'error' || level === 'fatal') &&
      rest.length > 0 &&
      (rest[0] === undefined || (typeof rest[0] === 'string' && STACK.test(rest[0])))
    ) {
      const stack = rest.shift() as string | undefined;
      if (stack) fields.err = { stack };
    }
    let msg: string;
    if (message instanceof Error) {
      msg = message.message;
      fields.err = { type: message.name, message: message.message, stack: message.stack };
    } else if ((level === 'error' || level === 'fatal') && typeof message === 'string' && STACK.test(message)) {
      // logger.error(error.stack): the first line is the message, the whole text the stack.
      msg = message.slice(0, message.indexOf('\n'));
      fields.err = { stack: message };
    } else {
      msg = typeof message === 'string' ? message : inspect(message, { breakLength: Infinity, depth: 4 });
    }
    if (rest.length > 0)
      fields.params = rest.map((p) => (p instanceof Error ? { type: p.name, message: p.message, stack: p.stack } : p));
    this.pino[level](fields, msg);
  }
}

/** A JsonLogger at `level` writing to `destination` (stdout, synchronously: no line is lost at exit). */
export function jsonLogger(
  level: Env['logLevel'],
  destination: DestinationStream = pino.destination({ fd: 1, sync: true }),
): JsonLogger {
  return new JsonLogger(
    pino(
      {
        level: PINO_LEVEL[level],
        base: isMainThread ? { pid: process.pid } : { pid: process.pid, thread: threadId },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        serializers: { err: (err: unknown) => err }, // `err` is built by JsonLogger.write
      },
      destination,
    ),
  );
}

/** One logger per (thread, level): main.ts and createApp both ask for one. */
const cache = new Map<string, JsonLogger>();

/**
 * The `logger` option of a Nest application (context): LOG_FORMAT=json → a {@link JsonLogger}
 * on stdout; pretty → Nest's ConsoleLogger with the levels up to LOG_LEVEL.
 */
export function createLogger(env: Pick<Env, 'logFormat' | 'logLevel'>): JsonLogger | LogLevel[] {
  if (env.logFormat !== 'json') return [...loggerLevels(env.logLevel)];
  let logger = cache.get(env.logLevel);
  if (!logger) {
    logger = jsonLogger(env.logLevel);
    cache.set(env.logLevel, logger);
  }
  return logger;
}
