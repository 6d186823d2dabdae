/** What every import format shares: the row and plan types, and the checks of ids, ratings, times and titles. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LIMITS } from '../../common/validation.js';
import { ImportFormatError, type TextEncoding } from './line-reader.js';

export const IMPORT_FORMATS = ['movielens-100k', 'movielens-1m', 'movielens-latest', 'csv'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Values of the Postgres enum `interaction_kind` (prisma/schema.prisma, InteractionKind). */
export const INTERACTION_KINDS = ['IMPLICIT', 'VIEW', 'CLICK', 'LIKE', 'ADD_TO_CART', 'PURCHASE', 'RATING'] as const;
export type InteractionKindName = (typeof INTERACTION_KINDS)[number];

/** Column limits of the schema (VARCHAR lengths). */
export { LIMITS };

export interface InteractionRow {
  user: string;
  item: string;
  kind: InteractionKindName;
  value: number;
  /** Epoch milliseconds, or null when the input has no time for this row. */
  time: number | null;
  /** Deterministic identity of the event within its source (the importer prefixes the source). */
  key: string;
  /** Client-supplied idempotency key (csv `event_id` column), used verbatim. */
  eventId: string | null;
}

export interface ItemMetadata {
  externalId: string;
  title: string | null;
  categories: string[];
}

export interface RowParser {
  /** Parses one line; null for lines without a row (header, blank, continued CSV record). */
  parse(line: string, lineNo: number): InteractionRow | null;
  /** Called at end of input (reports a CSV record left open). */
  end(): void;
}

export interface ImportPlan {
  format: ImportFormat;
  /** The interactions file. */
  file: string;
  encoding: TextEncoding;
  /** Whether rows carry a time (occurred_at is imported; otherwise it is the import's time). */
  hasTime: boolean;
  /** Source name used in event ids when --source is not given. */
  defaultSource: string;
  /** Files with item metadata that will be read (may be empty). */
  metadataFiles: string[];
  /** A fresh parser for one pass over `file`. */
  createParser(): RowParser;
  /** Item titles and categories (empty when the format or directory has none). */
  readItems(): Promise<ItemMetadata[]>;
}

export const DIGITS = /^\d+$/;
export const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
export const MAX_TIME_MS = 8.64e15;

export function pickFile(dir: string, names: string[], format: string): string {
  for (const name of names) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new Error(`${dir}: no ${names.join(' or ')} found for format ${format}`);
}

export function optionalFile(dir: string, name: string): string | null {
  const file = join(dir, name);
  return existsSync(file) ? file : null;
}

export function fail(file: string, line: number, reason: string): never {
  throw new ImportFormatError(file, line, reason);
}

export function isDigits(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export function checkId(file: string, line: number, what: string, value: string, integer: boolean): void {
  if (integer ? !isDigits(value) : value.length === 0) {
    fail(file, line, `${what} ${value === '' ? 'is empty' : `"${value}" is not a positive integer id`}`);
  }
  if (value.length > LIMITS.externalId) fail(file, line, `${what} is longer than ${LIMITS.externalId} characters`);
}

export function parseRating(file: string, line: number, text: string): number {
  const value = NUMBER.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) fail(file, line, `rating "${text}" is not a number`);
  return value;
}

/** Unix seconds (integer digits) → epoch ms. */
export function parseUnixSeconds(file: string, line: number, text: string): number {
  if (!isDigits(text)) fail(file, line, `timestamp "${text}" is not unix seconds`);
  const ms = Number(text) * 1000;
  if (ms > MAX_TIME_MS) fail(file, line, `timestamp "${text}" is out of range`);
  return ms;
}

/**
 * One MovieLens rating row from its four fields (user, movie, rating, unix seconds), each
 * checked; `names` are the file's own names of the two id columns, used in error messages.
 */
export function movielensRatingRow(
  file: string,
  line: number,
  fields: string[],
  names: [user: string, item: string],
): InteractionRow {
  const [user, item, rating, ts] = fields;
  checkId(file, line, names[0], user, true);
  checkId(file, line, names[1], item, true);
  const value = parseRating(file, line, rating);
  const time = parseUnixSeconds(file, line, ts);
  return { user, item, kind: 'RATING', value, time, key: user + ':' + item + ':' + timeKey(time), eventId: null };
}

/** Event-id time component: unix seconds, as text (fractions only when present). */
export function timeKey(ms: number | null): string {
  return ms === null ? '' : String(ms / 1000);
}

export function splitGenres(file: string, line: number, text: string): string[] {
  if (text === '' || text === '(no genres listed)') return [];
  const genres = text.split('|').filter((g) => g.length > 0);
  for (const g of genres) {
    if (g.length > LIMITS.category) fail(file, line, `genre longer than ${LIMITS.category} characters`);
  }
  return genres;
}

export function checkTitle(file: string, line: number, title: string): string | null {
  if (title.length > LIMITS.title) fail(file, line, `title longer than ${LIMITS.title} characters`);
  return title === '' ? null : title;
}

export function expectHeader(file: string, lineNo: number, fields: string[], expected: string[]): void {
  const got = fields.map((f) => f.trim());
  if (got.length !== expected.length || got.some((f, i) => f !== expected[i])) {
    fail(file, lineNo, `expected header "${expected.join(',')}", got "${got.join(',')}"`);
  }
}
