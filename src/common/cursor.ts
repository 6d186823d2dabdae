import { DomainError, ErrorCode } from './domain-error.js';

/** Opaque pagination cursors: base64url JSON arrays, validated on the way back in. */
export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(field: string, cursor: string, shape: ('string' | 'number')[]): (string | number)[] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parts) &&
      parts.length === shape.length &&
      parts.every((p, i) => typeof p === shape[i] && (typeof p !== 'number' || Number.isSafeInteger(p)))
    ) {
      return parts as (string | number)[];
    }
  } catch {
    // fall through
  }
  throw new DomainError(ErrorCode.BAD_USER_INPUT, `${field}: not a cursor returned by this API`, field);
}
