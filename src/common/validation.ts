import { DomainError, ErrorCode } from './domain-error.js';

/** Limits on client-supplied values (also documented in README "Limits"). */
export const LIMITS = {
  externalId: 256,
  title: 1024,
  category: 128,
  categoriesPerItem: 64,
  eventId: 256,
  /** Serialized JSON size of an `attributes` value. */
  attributesBytes: 16 * 1024,
  /** Nesting depth of an `attributes` value. */
  attributesDepth: 32,
} as const;

const bad = (field: string, message: string) =>
  new DomainError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, field);

/** Half of a UTF-16 surrogate pair on its own: not Unicode text (PostgreSQL's jsonb rejects it, text replaces it). */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** A required external id: non-empty, no surrounding whitespace, at most 256 characters, no NUL, valid Unicode. */
export function checkId(field: string, value: string): string {
  if (value.length === 0) throw bad(field, 'must not be empty');
  if (value.length > LIMITS.externalId) throw bad(field, `must be at most ${LIMITS.externalId} characters`);
  if (value.trim() !== value) throw bad(field, 'must not start or end with whitespace');
  if (value.includes('\u0000')) throw bad(field, 'must not contain NUL characters'); // PostgreSQL text cannot hold them
  if (LONE_SURROGATE.test(value)) throw bad(field, 'must be valid Unicode (a lone surrogate)');
  return value;
}

/**
 * `${field}.id` of one entry of a batch: a valid id not already in `seen` (which it joins);
 * BAD_USER_INPUT when the batch names it twice.
 */
export function checkBatchId(field: string, value: string, seen: Set<string>): string {
  const id = checkId(`${field}.id`, value);
  if (seen.has(id))
    throw new DomainError(ErrorCode.BAD_USER_INPUT, `${field}.id: "${id}" appears twice in the batch`, `${field}.id`);
  seen.add(id);
  return id;
}

export function checkString(field: string, value: string, max: number): string {
  if (value.length > max) throw bad(field, `must be at most ${max} characters`);
  if (value.includes('\u0000')) throw bad(field, 'must not contain NUL characters');
  if (LONE_SURROGATE.test(value)) throw bad(field, 'must be valid Unicode (a lone surrogate)');
  return value;
}

export function checkCategories(field: string, values: string[]): string[] {
  if (values.length > LIMITS.categoriesPerItem) throw bad(field, `at most ${LIMITS.categoriesPerItem} categories`);
  values.forEach((v, i) => {
    if (v.length === 0) throw bad(`${field}[${i}]`, 'must not be empty');
    checkString(`${field}[${i}]`, v, LIMITS.category);
  });
  return [...new Set(values)];
}

/** A JSON object of attributes, at most 16 KiB serialized, nested at most 32 levels. */
export function checkAttributes(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(field, 'must be a JSON object');
  // Before JSON.stringify, which overflows the stack on a value nested a few thousand deep.
  const { depth, loneSurrogate } = inspectJson(value, LIMITS.attributesDepth + 1);
  if (depth > LIMITS.attributesDepth) throw bad(field, `must be nested at most ${LIMITS.attributesDepth} levels`);
  if (loneSurrogate) throw bad(field, 'must be valid Unicode (a lone surrogate)');
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > LIMITS.attributesBytes) throw bad(field, `must be at most ${LIMITS.attributesBytes} bytes as JSON`);
  if (JSON.stringify(value).includes('\\u0000')) throw bad(field, 'must not contain NUL characters');
  return value as Record<string, unknown>;
}

/** A JSON value's nesting depth (a scalar is 0; counted up to `stop`) and whether a key or string has a lone surrogate; iterative. */
function inspectJson(value: unknown, stop: number): { depth: number; loneSurrogate: boolean } {
  let depth = 0;
  let loneSurrogate = false;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0 && depth < stop) {
    const [v, d] = stack.pop()!;
    if (typeof v === 'string') loneSurrogate ||= LONE_SURROGATE.test(v);
    if (v === null || typeof v !== 'object') continue;
    depth = Math.max(depth, d + 1);
    for (const [k, child] of Object.entries(v)) {
      loneSurrogate ||= LONE_SURROGATE.test(k);
      stack.push([child, d + 1]);
    }
  }
  return { depth, loneSurrogate };
}

export function checkBatch<T>(field: string, values: T[], max: number): T[] {
  if (values.length === 0)
    throw new DomainError(ErrorCode.BATCH_EMPTY, `${field}: must contain at least one element`, field);
  if (values.length > max) {
    throw new DomainError(
      ErrorCode.BATCH_TOO_LARGE,
      `${field}: at most ${max} elements per call (got ${values.length})`,
      field,
      {
        max,
      },
    );
  }
  return values;
}

/** A page or list size: 1..max. */
export function checkLimit(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw bad(field, `must be an integer between 1 and ${max}`);
  return value;
}

export function checkFinite(field: string, value: number, absMax = 1e9): number {
  if (!Number.isFinite(value) || Math.abs(value) > absMax)
    throw bad(field, `must be a finite number within ±${absMax}`);
  return value;
}

/** Postgres timestamptz covers 4713 BC..294276 AD; we accept years 1970..9999 to catch unit mistakes. */
export function checkDate(field: string, value: Date): Date {
  const t = value.getTime();
  if (!Number.isFinite(t) || t < 0 || value.getUTCFullYear() > 9999)
    throw bad(field, 'must be a date between 1970 and 9999');
  return value;
}
