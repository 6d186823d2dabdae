import { jest } from '@jest/globals';
import { EventBuffer, type EventBufferOptions } from '../src/event-buffer.js';
import {
  RecoderBadResponseError,
  RecoderBadUserInputError,
  RecoderForbiddenError,
  RecoderNetworkError,
  RecoderRateLimitedError,
  RecoderUnknownItemsError,
} from '../src/errors.js';
import type { RecordInteractionInput } from '../src/generated/graphql.js';

/** A scripted server: stores events by eventId (as Recoder does), fails the next calls as told. */
class FakeServer {
  readonly stored = new Map<string, RecordInteractionInput>();
  readonly calls: RecordInteractionInput[][] = [];
  /** Errors to throw on the next calls; `lost` stores the batch, then throws (the answer never came). */
  readonly failures: (Error | { lost: Error })[] = [];
  gate: Promise<void> | undefined;

  send = async (events: RecordInteractionInput[]) => {
    this.calls.push(events);
    if (this.gate) await this.gate;
    const failure = this.failures.shift();
    if (failure && !('lost' in failure)) throw failure;
    let duplicates = 0;
    for (const e of events) {
      if (this.stored.has(e.eventId!)) duplicates++;
      else this.stored.set(e.eventId!, e);
    }
    if (failure) throw failure.lost;
    return { duplicates };
  };
}

const networkError = () => new RecoderNetworkError('no answer', 'NETWORK_ERROR', { connected: true });
const flushPromises = () => jest.advanceTimersByTimeAsync(0);

describe('EventBuffer', () => {
  let server: FakeServer;
  const make = (options: EventBufferOptions = {}) =>
    new EventBuffer(server.send, { retryBaseDelayMs: 100, maxRetryDelayMs: 1000, ...options });

  beforeEach(() => {
    jest.useFakeTimers();
    server = new FakeServer();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('sends full batches at once and the rest after flushIntervalMs, in order, with one eventId per event', async () => {
    const buffer = make({ batchSize: 3, flushIntervalMs: 1000 });
    for (let i = 0; i < 7; i++) buffer.track({ userId: 'u', itemId: `i${i}`, kind: 'VIEW' });
    await flushPromises();
    expect(server.calls.map((c) => c.length)).toEqual([3, 3]);
    await jest.advanceTimersByTimeAsync(999);
    expect(server.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(server.calls.map((c) => c.map((e) => e.itemId))).toEqual([['i0', 'i1', 'i2'], ['i3', 'i4', 'i5'], ['i6']]);
    const ids = server.calls.flat().map((e) => e.eventId!);
    const prefix = ids[0].replace(/-1$/, '');
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7].map((s) => `${prefix}-${s}`));
    expect(server.calls.flat().every((e) => e.kind === 'VIEW' && typeof e.occurredAt === 'string')).toBe(true);
    expect(buffer.stats()).toMatchObject({ tracked: 7, stored: 7, batches: 3, buffered: 0 });
  });

  it('stamps occurredAt when tracked (not when sent) and keeps a given eventId', async () => {
    jest.setSystemTime(new Date('2026-01-02T03:04:05.000Z'));
    const buffer = make({ flushIntervalMs: 5000 });
    buffer.track({ userId: 'u', itemId: 'a' });
    buffer.track({
      userId: 'u',
      itemId: 'b',
      eventId: 'order-1-line-1',
      occurredAt: '2025-12-31T23:00:00Z',
      value: 2,
      kind: 'PURCHASE',
    });
    await jest.advanceTimersByTimeAsync(5000);
    expect(server.calls[0]).toEqual([
      expect.objectContaining({ itemId: 'a', kind: 'IMPLICIT', occurredAt: '2026-01-02T03:04:05.000Z' }),
      {
        userId: 'u',
        itemId: 'b',
        kind: 'PURCHASE',
        value: 2,
        occurredAt: '2025-12-31T23:00:00.000Z',
        eventId: 'order-1-line-1',
      },
    ]);
  });

  it('resends the same batch (same eventIds) after network errors and 5xx, with growing delays', async () => {
    const buffer = make({ batchSize: 2 });
    server.failures.push(
      networkError(),
      new RecoderBadResponseError('bad gateway', 'BAD_RESPONSE', {}, { status: 502 }),
      networkError(),
    );
    buffer.track({ userId: 'u', itemId: 'a' });
    buffer.track({ userId: 'u', itemId: 'b' });
    await flushPromises();
    expect(server.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(5000);
    expect(server.calls).toHaveLength(4);
    expect(new Set(server.calls.map((c) => JSON.stringify(c))).size).toBe(1);
    expect(buffer.stats()).toMatchObject({ stored: 2, retries: 3, batches: 1, failed: 0 });
  });

  it('waits the Retry-After of a 429 before resending', async () => {
    const buffer = make({ batchSize: 1 });
    server.failures.push(new RecoderRateLimitedError('slow down', 'RATE_LIMITED', {}, { status: 429, retryAfter: 7 }));
    buffer.track({ userId: 'u', itemId: 'a' });
    await flushPromises();
    await jest.advanceTimersByTimeAsync(6999);
    expect(server.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(server.calls).toHaveLength(2);
    expect(buffer.stats()).toMatchObject({ stored: 1, retries: 1 });
  });

  it('counts a resend of a batch whose answer was lost as duplicates: each event stored once', async () => {
    const buffer = make({ batchSize: 3 });
    server.failures.push({ lost: networkError() });
    for (const id of ['a', 'b', 'c']) buffer.track({ userId: 'u', itemId: id });
    await jest.advanceTimersByTimeAsync(2000);
    expect(server.calls).toHaveLength(2);
    expect(server.stored.size).toBe(3);
    expect(buffer.stats()).toMatchObject({ tracked: 3, stored: 0, duplicates: 3, retries: 1 });
  });

  it('bounds memory: past maxBufferedEvents it drops the oldest waiting events and counts them', async () => {
    let open!: () => void;
    server.gate = new Promise((r) => (open = r));
    const buffer = make({ batchSize: 2, maxBufferedEvents: 5 });
    for (let i = 0; i < 20; i++) buffer.track({ userId: 'u', itemId: `i${i}` });
    expect(buffer.stats()).toMatchObject({ tracked: 20, dropped: 15, buffered: 5 });
    open();
    server.gate = undefined;
    await buffer.close();
    expect(server.calls.map((c) => c.map((e) => e.itemId))).toEqual([['i0', 'i1'], ['i17', 'i18'], ['i19']]);
    expect(buffer.stats()).toMatchObject({ stored: 5, dropped: 15, buffered: 0 });
  });

  it('removes the events the server names as invalid and sends the rest; other refusals reject the batch', async () => {
    const errors: { error: unknown; events: readonly RecordInteractionInput[]; willRetry: boolean }[] = [];
    const buffer = make({ batchSize: 4, onError: (error, info) => errors.push({ error, ...info }) });
    server.failures.push(
      new RecoderUnknownItemsError('unknown', 'UNKNOWN_ITEMS', { ids: ['gone'], field: 'interactions[1].itemId' }),
      new RecoderBadUserInputError('bad value', 'BAD_USER_INPUT', { field: 'interactions[1].value' }),
    );
    for (const id of ['a', 'gone', 'b', 'c'])
      buffer.track({ userId: 'u', itemId: id, kind: id === 'b' ? 'RATING' : 'VIEW' });
    await buffer.flush();
    expect(server.calls.map((c) => c.map((e) => e.itemId))).toEqual([
      ['a', 'gone', 'b', 'c'],
      ['a', 'b', 'c'],
      ['a', 'c'],
    ]);
    expect(buffer.stats()).toMatchObject({ stored: 2, rejected: 2, retries: 0 });
    expect(errors.map((e) => [e.events.map((x) => x.itemId), e.willRetry])).toEqual([
      [['gone'], false],
      [['b'], false],
    ]);

    server.failures.push(new RecoderForbiddenError('no', 'FORBIDDEN', { required: 'WRITER', role: 'READER' }));
    buffer.track({ userId: 'u', itemId: 'x' });
    await buffer.flush();
    expect(buffer.stats()).toMatchObject({ stored: 2, rejected: 3 });
    expect(errors[2].error).toBeInstanceOf(RecoderForbiddenError);
  });

  it('gives up after maxRetryMs and counts the events as failed', async () => {
    const errors: boolean[] = [];
    const buffer = make({ batchSize: 2, maxRetryMs: 3000, onError: (_e, info) => errors.push(info.willRetry) });
    for (let i = 0; i < 50; i++) server.failures.push(networkError());
    buffer.track({ userId: 'u', itemId: 'a' });
    buffer.track({ userId: 'u', itemId: 'b' });
    await jest.advanceTimersByTimeAsync(10_000);
    expect(buffer.stats()).toMatchObject({ failed: 2, stored: 0, buffered: 0 });
    expect(errors[errors.length - 1]).toBe(false);
    expect(errors.slice(0, -1).every(Boolean)).toBe(true);
  });

  it('shares the retry budget across batches of one outage, so close() ends in bounded time; a success resets it', async () => {
    const random = jest.spyOn(Math, 'random').mockReturnValue(1); // no jitter: delays 100, 200, 400, 800, 1000 ms
    try {
      const buffer = make({ batchSize: 2, maxRetryMs: 3000 });
      for (let i = 0; i < 100; i++) server.failures.push(networkError());
      for (let i = 0; i < 10; i++) buffer.track({ userId: 'u', itemId: `i${i}` });
      const closing = buffer.close();
      await jest.advanceTimersByTimeAsync(4000);
      expect(await closing).toMatchObject({ failed: 10, buffered: 0 });
      // Five batches, all given up by t = 3 s (not 5 × 3 s): the first tries at 0, 100, 300, 700,
      // 1500, 2500 ms; the later ones only while the outage is under 3 s old.
      const tries = ['i0', 'i2', 'i4', 'i6', 'i8'].map((id) => server.calls.filter((c) => c[0].itemId === id).length);
      expect(tries).toEqual([6, 3, 2, 2, 1]);
    } finally {
      random.mockRestore();
    }

    server.failures.length = 0;
    server.failures.push(networkError());
    const again = make({ batchSize: 1, maxRetryMs: 3000 });
    again.track({ userId: 'u', itemId: 'a' });
    await jest.advanceTimersByTimeAsync(1000);
    expect(again.stats()).toMatchObject({ stored: 1, retries: 1, failed: 0 });
  });

  it('close() sends what waits and refuses later events; malformed events throw at once', async () => {
    const buffer = make({ flushIntervalMs: 60_000 });
    expect(() => buffer.track({ userId: '', itemId: 'a' })).toThrow(/userId/);
    expect(() => buffer.track({ userId: 'u', itemId: 'a', occurredAt: 'yesterday' })).toThrow(/occurredAt/);
    expect(() => buffer.track({ userId: 'u', itemId: 'a', value: Number.NaN })).toThrow(/value/);
    buffer.track({ userId: 'u', itemId: 'a' });
    const closing = buffer.close();
    await flushPromises();
    expect(await closing).toMatchObject({ tracked: 1, stored: 1, buffered: 0 });
    expect(() => buffer.track({ userId: 'u', itemId: 'b' })).toThrow(/closed/);
  });

  it('rejects bad options', () => {
    expect(() => make({ batchSize: 0 })).toThrow(RangeError);
    expect(() => make({ maxBufferedEvents: 1.5 })).toThrow(RangeError);
    expect(() => make({ flushIntervalMs: -1 })).toThrow(RangeError);
  });
});
