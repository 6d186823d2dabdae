import { decodeCursor, encodeCursor } from './cursor.js';
import { DomainError, ErrorCode } from './domain-error.js';
import {
  checkAttributes,
  checkBatch,
  checkCategories,
  checkDate,
  checkFinite,
  checkId,
  checkLimit,
} from './validation.js';

function errorOf(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe('validation', () => {
  it('accepts good ids and names the field of bad ones', () => {
    expect(checkId('id', 'user-1')).toBe('user-1');
    expect(errorOf(() => checkId('users[2].id', ''))).toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      field: 'users[2].id',
    });
    expect(errorOf(() => checkId('id', ' padded'))).toMatchObject({ field: 'id' });
    expect(errorOf(() => checkId('id', 'x'.repeat(257))).message).toContain('256');
  });

  it('caps batches with distinct codes for empty and oversized', () => {
    expect(errorOf(() => checkBatch('items', [], 10)).code).toBe(ErrorCode.BATCH_EMPTY);
    expect(errorOf(() => checkBatch('items', new Array(11).fill(0), 10))).toMatchObject({
      code: ErrorCode.BATCH_TOO_LARGE,
      details: { max: 10 },
    });
    expect(checkBatch('items', [1], 10)).toEqual([1]);
  });

  it('checks limits, numbers, dates, categories and attributes', () => {
    expect(errorOf(() => checkLimit('limit', -1, 100)).field).toBe('limit');
    expect(errorOf(() => checkLimit('limit', 101, 100)).field).toBe('limit');
    expect(errorOf(() => checkLimit('limit', 1.5, 100)).field).toBe('limit');
    expect(checkLimit('limit', 100, 100)).toBe(100);
    expect(errorOf(() => checkFinite('value', Number.NaN)).field).toBe('value');
    expect(errorOf(() => checkDate('at', new Date(-1))).field).toBe('at');
    expect(errorOf(() => checkDate('at', new Date('x'))).field).toBe('at');
    expect(checkCategories('c', ['a', 'b', 'a'])).toEqual(['a', 'b']);
    expect(errorOf(() => checkCategories('c', ['a', ''])).field).toBe('c[1]');
    expect(errorOf(() => checkAttributes('attributes', { big: 'x'.repeat(20_000) })).field).toBe('attributes');
    expect(errorOf(() => checkAttributes('attributes', [1])).field).toBe('attributes');
  });
});

describe('cursors', () => {
  it('round-trip and reject anything else', () => {
    const c = encodeCursor([1700000000000, '42']);
    expect(decodeCursor('after', c, ['number', 'string'])).toEqual([1700000000000, '42']);
    expect(errorOf(() => decodeCursor('after', c, ['number'])).field).toBe('after');
    expect(errorOf(() => decodeCursor('after', 'not-base64!', ['number'])).field).toBe('after');
    expect(errorOf(() => decodeCursor('after', encodeCursor([1.5]), ['number'])).field).toBe('after');
  });
});
