import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { createLogger, jsonLogger, JsonLogger } from './logger.js';

function capture(level: 'log' | 'debug' | 'verbose' = 'log') {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: jsonLogger(level, stream), lines };
}

describe('JsonLogger', () => {
  it('writes one JSON object per message with time, level, context and msg', () => {
    const { logger, lines } = capture();
    logger.log('serving model version 3', 'Models');
    logger.warn('slow', 'Db');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'info',
      context: 'Models',
      msg: 'serving model version 3',
      pid: process.pid,
    });
    expect(new Date(lines[0].time).toISOString()).toBe(lines[0].time);
    expect(lines[1]).toMatchObject({ level: 'warn', context: 'Db', msg: 'slow' });
  });

  it('error(message, stack, context) and error(stack, context) carry err.stack; Errors are serialised', () => {
    const { logger, lines } = capture();
    const error = new Error('boom');
    logger.error('request failed', error.stack, 'ExceptionsHandler');
    logger.error(error.stack, 'GraphQLErrors');
    logger.error(error, 'Main');
    logger.error('no stack here', undefined, 'Ctx');
    expect(lines[0]).toMatchObject({
      level: 'error',
      context: 'ExceptionsHandler',
      msg: 'request failed',
      err: { stack: error.stack },
    });
    expect(lines[1]).toMatchObject({
      level: 'error',
      context: 'GraphQLErrors',
      msg: 'Error: boom',
      err: { stack: error.stack },
    });
    expect(lines[2]).toMatchObject({
      level: 'error',
      context: 'Main',
      msg: 'boom',
      err: { type: 'Error', message: 'boom', stack: error.stack },
    });
    expect(lines[3]).toEqual(expect.objectContaining({ context: 'Ctx', msg: 'no stack here' }));
    expect(lines[3].err).toBeUndefined();
  });

  it('honours the level: debug and verbose are dropped at LOG_LEVEL=log', () => {
    const { logger, lines } = capture('log');
    logger.debug('hidden', 'X');
    logger.verbose('hidden', 'X');
    logger.log({ a: 1 }, 'X');
    expect(lines).toEqual([expect.objectContaining({ level: 'info', msg: '{ a: 1 }', context: 'X' })]);
    const verbose = capture('verbose');
    verbose.logger.verbose('shown', 'X');
    expect(verbose.lines[0]).toMatchObject({ level: 'trace', msg: 'shown' });
  });

  it('receives what Nest Logger instances log once installed', () => {
    const { logger, lines } = capture();
    Logger.overrideLogger(logger);
    try {
      new Logger('Models').log('hello');
      new Logger('Models').error('bad');
    } finally {
      Logger.overrideLogger(['error', 'warn', 'log']);
    }
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', context: 'Models', msg: 'hello' }),
      expect.objectContaining({ level: 'error', context: 'Models', msg: 'bad' }),
    ]);
  });

  it('createLogger: json → a JsonLogger (one per level), pretty → Nest levels', () => {
    expect(createLogger({ logFormat: 'pretty', logLevel: 'warn' })).toEqual(['error', 'warn']);
    const json = createLogger({ logFormat: 'json', logLevel: 'log' });
    expect(json).toBeInstanceOf(JsonLogger);
    expect(createLogger({ logFormat: 'json', logLevel: 'log' })).toBe(json);
  });
});
