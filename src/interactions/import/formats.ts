/**
 * Input formats of the interaction importer: where the files are, how a line becomes an
 * interaction, and how item metadata (titles, genres) is read.
 *
 *  - movielens-1m:     ratings.dat (UserID::MovieID::Rating::Timestamp) or
 *                      ratings.user-movie-pairs.dat (UserID::MovieID, stored as IMPLICIT, value 1);
 *                      movies.dat (MovieID::Title::Genre|Genre, latin1).
 *  - movielens-100k:   u.data (user \t item \t rating \t timestamp); u.item (id|title|date|video
 *                      date|url|19 genre flags, latin1) with genre names from u.genre.
 *  - movielens-latest: ratings.csv (userId,movieId,rating,timestamp); movies.csv
 *                      (movieId,title,genres; titles quoted when they contain commas).
 *  - csv:              a file with a header: user,item and optionally kind,value,timestamp (unix
 *                      seconds or ISO 8601),event_id.
 *
 * The path may be the directory or the interactions file itself (metadata is then looked up next
 * to it). Every line must parse: a bad line raises ImportFormatError naming file and line.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { LIMITS } from '../../common/validation.js';
import { CsvRecordAssembler, CsvSyntaxError, splitCsvRecord } from './csv.js';
import { ImportFormatError, readFirstLine, readLines, type TextEncoding } from './line-reader.js';

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

export function isImportFormat(value: string): value is ImportFormat {
  return (IMPORT_FORMATS as readonly string[]).includes(value);
}

/** Resolves the files of an import and peeks at the interactions file to fix its layout. */
export async function planImport(path: string, format: string): Promise<ImportPlan> {
  if (!isImportFormat(format)) {
    throw new Error(`Unknown import format "${format}"; expected one of: ${IMPORT_FORMATS.join(', ')}`);
  }
  if (!existsSync(path)) throw new Error(`${path}: no such file or directory`);
  const isDir = statSync(path).isDirectory();
  switch (format) {
    case 'movielens-1m':
      return planMovielens1m(path, isDir);
    case 'movielens-100k':
      return planMovielens100k(path, isDir);
    case 'movielens-latest':
      return planMovielensLatest(path, isDir);
    case 'csv':
      return planCsv(path, isDir);
  }
}

/** Streams the parsed rows of a plan's interactions file in batches. */
export async function* readInteractionBatches(
  plan: ImportPlan,
): AsyncGenerator<{ rows: InteractionRow[]; bytesDone: number }> {
  const parser = plan.createParser();
  for await (const batch of readLines(plan.file, { encoding: plan.encoding })) {
    const rows: InteractionRow[] = [];
    const { lines, firstLine } = batch;
    for (let i = 0; i < lines.length; i++) {
      const row = parser.parse(lines[i], firstLine + i);
      if (row !== null) rows.push(row);
    }
    yield { rows, bytesDone: batch.bytesDone };
  }
  parser.end();
}

// ---------------------------------------------------------------------------------------------
// shared helpers

const DIGITS = /^\d+$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const MAX_TIME_MS = 8.64e15;

function pickFile(dir: string, names: string[], format: string): string {
  for (const name of names) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new Error(`${dir}: no ${names.join(' or ')} found for format ${format}`);
}

function optionalFile(dir: string, name: string): string | null {
  const file = join(dir, name);
  return existsSync(file) ? file : null;
}

function fail(file: string, line: number, reason: string): never {
  throw new ImportFormatError(file, line, reason);
}

function isDigits(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function checkId(file: string, line: number, what: string, value: string, integer: boolean): void {
  if (integer ? !isDigits(value) : value.length === 0) {
    fail(file, line, `${what} ${value === '' ? 'is empty' : `"${value}" is not a positive integer id`}`);
  }
  if (value.length > LIMITS.externalId) fail(file, line, `${what} is longer than ${LIMITS.externalId} characters`);
}

function parseRating(file: string, line: number, text: string): number {
  const value = NUMBER.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value)) fail(file, line, `rating "${text}" is not a number`);
  return value;
}

/** Unix seconds (integer digits) → epoch ms. */
function parseUnixSeconds(file: string, line: number, text: string): number {
  if (!isDigits(text)) fail(file, line, `timestamp "${text}" is not unix seconds`);
  const ms = Number(text) * 1000;
  if (ms > MAX_TIME_MS) fail(file, line, `timestamp "${text}" is out of range`);
  return ms;
}

/** Event-id time component: unix seconds, as text (fractions only when present). */
export function timeKey(ms: number | null): string {
  return ms === null ? '' : String(ms / 1000);
}

function splitGenres(file: string, line: number, text: string): string[] {
  if (text === '' || text === '(no genres listed)') return [];
  const genres = text.split('|').filter((g) => g.length > 0);
  for (const g of genres) {
    if (g.length > LIMITS.category) fail(file, line, `genre longer than ${LIMITS.category} characters`);
  }
  return genres;
}

function checkTitle(file: string, line: number, title: string): string | null {
  if (title.length > LIMITS.title) fail(file, line, `title longer than ${LIMITS.title} characters`);
  return title === '' ? null : title;
}

// ---------------------------------------------------------------------------------------------
// movielens-1m

async function planMovielens1m(path: string, isDir: boolean): Promise<ImportPlan> {
  const file = isDir ? pickFile(path, ['ratings.dat', 'ratings.user-movie-pairs.dat'], 'movielens-1m') : path;
  const dir = dirname(file);
  const first = await readFirstLine(file, 'latin1');
  // Layout from the first line: 4 fields = ratings, 2 = user-movie pairs. Every later line must match.
  const fields = first === null ? 2 : first.split('::').length;
  if (fields !== 2 && fields !== 4) {
    throw new ImportFormatError(file, 1, `expected UserID::MovieID::Rating::Timestamp or UserID::MovieID, got "${first}"`);
  }
  const pairs = fields === 2;
  const moviesFile = optionalFile(dir, 'movies.dat');
  return {
    format: 'movielens-1m',
    file,
    encoding: 'latin1',
    hasTime: !pairs,
    defaultSource: 'ml-1m',
    metadataFiles: moviesFile ? [moviesFile] : [],
    createParser: () => (pairs ? ml1mPairsParser(file) : ml1mRatingsParser(file)),
    readItems: () => (moviesFile ? readMovielens1mMovies(moviesFile) : Promise.resolve([])),
  };
}

function ml1mPairsParser(file: string): RowParser {
  return {
    parse(line, lineNo) {
      if (line.length === 0) return null;
      const sep = line.indexOf('::');
      if (sep === -1 || line.indexOf('::', sep + 2) !== -1) fail(file, lineNo, `expected UserID::MovieID, got "${line}"`);
      const user = line.slice(0, sep);
      const item = line.slice(sep + 2);
      checkId(file, lineNo, 'UserID', user, true);
      checkId(file, lineNo, 'MovieID', item, true);
      return { user, item, kind: 'IMPLICIT', value: 1, time: null, key: user + ':' + item + ':', eventId: null };
    },
    end() {},
  };
}

function ml1mRatingsParser(file: string): RowParser {
  return {
    parse(line, lineNo) {
      if (line.length === 0) return null;
      const f = line.split('::');
      if (f.length !== 4) fail(file, lineNo, `expected UserID::MovieID::Rating::Timestamp, got "${line}"`);
      const [user, item, rating, ts] = f;
      checkId(file, lineNo, 'UserID', user, true);
      checkId(file, lineNo, 'MovieID', item, true);
      const value = parseRating(file, lineNo, rating);
      const time = parseUnixSeconds(file, lineNo, ts);
      return { user, item, kind: 'RATING', value, time, key: user + ':' + item + ':' + timeKey(time), eventId: null };
    },
    end() {},
  };
}

export async function readMovielens1mMovies(file: string): Promise<ItemMetadata[]> {
  const items: ItemMetadata[] = [];
  for await (const batch of readLines(file, { encoding: 'latin1' })) {
    batch.lines.forEach((line, i) => {
      const lineNo = batch.firstLine + i;
      if (line.length === 0) return;
      const f = line.split('::');
      if (f.length < 3) fail(file, lineNo, `expected MovieID::Title::Genres, got "${line}"`);
      const externalId = f[0];
      checkId(file, lineNo, 'MovieID', externalId, true);
      const title = checkTitle(file, lineNo, f.slice(1, -1).join('::'));
      items.push({ externalId, title, categories: splitGenres(file, lineNo, f[f.length - 1]) });
    });
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// movielens-100k

/** Genre names of u.genre, used when the file is missing. */
const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

async function planMovielens100k(path: string, isDir: boolean): Promise<ImportPlan> {
  const file = isDir ? pickFile(path, ['u.data'], 'movielens-100k') : path;
  const dir = dirname(file);
  const itemFile = optionalFile(dir, 'u.item');
  const genreFile = optionalFile(dir, 'u.genre');
  return {
    format: 'movielens-100k',
    file,
    encoding: 'latin1',
    hasTime: true,
    defaultSource: 'ml-100k',
    metadataFiles: [itemFile, itemFile ? genreFile : null].filter((f): f is string => f !== null),
    createParser: () => ml100kParser(file),
    readItems: async () => {
      if (!itemFile) return [];
      const genres = genreFile ? await readMovielens100kGenres(genreFile) : ML100K_GENRES;
      return readMovielens100kItems(itemFile, genres);
    },
  };
}

function ml100kParser(file: string): RowParser {
  return {
    parse(line, lineNo) {
      if (line.length === 0) return null;
      const f = line.split('\t');
      if (f.length !== 4) fail(file, lineNo, `expected "user<TAB>item<TAB>rating<TAB>timestamp", got "${line}"`);
      const [user, item, rating, ts] = f;
      checkId(file, lineNo, 'user id', user, true);
      checkId(file, lineNo, 'item id', item, true);
      const value = parseRating(file, lineNo, rating);
      const time = parseUnixSeconds(file, lineNo, ts);
      return { user, item, kind: 'RATING', value, time, key: user + ':' + item + ':' + timeKey(time), eventId: null };
    },
    end() {},
  };
}

/** u.genre: "name|index" per line → names by index. */
export async function readMovielens100kGenres(file: string): Promise<string[]> {
  const genres: string[] = [];
  for await (const batch of readLines(file, { encoding: 'latin1' })) {
    batch.lines.forEach((line, i) => {
      const lineNo = batch.firstLine + i;
      if (line.trim().length === 0) return;
      const sep = line.lastIndexOf('|');
      const index = line.slice(sep + 1);
      if (sep <= 0 || !DIGITS.test(index)) fail(file, lineNo, `expected "name|index", got "${line}"`);
      const name = line.slice(0, sep);
      if (name.length > LIMITS.category) fail(file, lineNo, `genre longer than ${LIMITS.category} characters`);
      genres[Number(index)] = name;
    });
  }
  for (let i = 0; i < genres.length; i++) {
    if (genres[i] === undefined) throw new ImportFormatError(file, null, `genre index ${i} is missing`);
  }
  return genres;
}

/** u.item: id|title|release date|video release date|IMDb URL|<one 0/1 flag per genre>. */
export async function readMovielens100kItems(file: string, genres: string[]): Promise<ItemMetadata[]> {
  const items: ItemMetadata[] = [];
  const g = genres.length;
  for await (const batch of readLines(file, { encoding: 'latin1' })) {
    batch.lines.forEach((line, i) => {
      const lineNo = batch.firstLine + i;
      if (line.length === 0) return;
      const f = line.split('|');
      if (f.length < 5 + g) fail(file, lineNo, `expected ${5 + g} "|"-separated fields (${g} genre flags), got ${f.length}`);
      const externalId = f[0];
      checkId(file, lineNo, 'movie id', externalId, true);
      const title = checkTitle(file, lineNo, f.slice(1, f.length - g - 3).join('|'));
      const categories: string[] = [];
      for (let k = 0; k < g; k++) {
        const flag = f[f.length - g + k];
        if (flag === '1') categories.push(genres[k]);
        else if (flag !== '0') fail(file, lineNo, `genre flag ${k + 1} is "${flag}", expected 0 or 1`);
      }
      items.push({ externalId, title, categories });
    });
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// movielens-latest

async function planMovielensLatest(path: string, isDir: boolean): Promise<ImportPlan> {
  const file = isDir ? pickFile(path, ['ratings.csv'], 'movielens-latest') : path;
  const dir = dirname(file);
  const moviesFile = optionalFile(dir, 'movies.csv');
  return {
    format: 'movielens-latest',
    file,
    encoding: 'utf8',
    hasTime: true,
    defaultSource: 'ml-latest',
    metadataFiles: moviesFile ? [moviesFile] : [],
    createParser: () => mlLatestParser(file),
    readItems: () => (moviesFile ? readMovielensLatestMovies(moviesFile) : Promise.resolve([])),
  };
}

function expectHeader(file: string, lineNo: number, fields: string[], expected: string[]): void {
  const got = fields.map((f) => f.trim());
  if (got.length !== expected.length || got.some((f, i) => f !== expected[i])) {
    fail(file, lineNo, `expected header "${expected.join(',')}", got "${got.join(',')}"`);
  }
}

function mlLatestParser(file: string): RowParser {
  let header = true;
  return {
    parse(line, lineNo) {
      if (line.length === 0) return null;
      let f: string[] | null;
      try {
        f = splitCsvRecord(line);
      } catch (err) {
        fail(file, lineNo, (err as Error).message);
      }
      if (f === null) fail(file, lineNo, 'unterminated quoted field');
      if (header) {
        header = false;
        expectHeader(file, lineNo, f, ['userId', 'movieId', 'rating', 'timestamp']);
        return null;
      }
      if (f.length !== 4) fail(file, lineNo, `expected userId,movieId,rating,timestamp, got "${line}"`);
      const [user, item, rating, ts] = f;
      checkId(file, lineNo, 'userId', user, true);
      checkId(file, lineNo, 'movieId', item, true);
      const value = parseRating(file, lineNo, rating);
      const time = parseUnixSeconds(file, lineNo, ts);
      return { user, item, kind: 'RATING', value, time, key: user + ':' + item + ':' + timeKey(time), eventId: null };
    },
    end() {},
  };
}

export async function readMovielensLatestMovies(file: string): Promise<ItemMetadata[]> {
  const items: ItemMetadata[] = [];
  const csv = new CsvRecordAssembler();
  let header = true;
  for await (const batch of readLines(file, { encoding: 'utf8' })) {
    batch.lines.forEach((line, i) => {
      const lineNo = batch.firstLine + i;
      if (line.length === 0 && !csv.open) return;
      let f: string[] | null;
      try {
        f = csv.push(line, lineNo);
      } catch (err) {
        fail(file, csv.openLine, (err as Error).message);
      }
      if (f === null) return;
      const at = csv.recordLine;
      if (header) {
        header = false;
        expectHeader(file, at, f, ['movieId', 'title', 'genres']);
        return;
      }
      if (f.length !== 3) fail(file, at, `expected movieId,title,genres (3 fields), got ${f.length}`);
      checkId(file, at, 'movieId', f[0], true);
      items.push({ externalId: f[0], title: checkTitle(file, at, f[1]), categories: splitGenres(file, at, f[2]) });
    });
  }
  if (csv.open) fail(file, csv.openLine, 'unterminated quoted field');
  return items;
}

// ---------------------------------------------------------------------------------------------
// csv

const CSV_COLUMNS: Record<string, 'user' | 'item' | 'kind' | 'value' | 'timestamp' | 'event_id'> = {
  user: 'user',
  user_id: 'user',
  userid: 'user',
  item: 'item',
  item_id: 'item',
  itemid: 'item',
  kind: 'kind',
  value: 'value',
  timestamp: 'timestamp',
  occurred_at: 'timestamp',
  event_id: 'event_id',
  eventid: 'event_id',
};

interface CsvLayout {
  width: number;
  user: number;
  item: number;
  kind: number;
  value: number;
  timestamp: number;
  eventId: number;
}

function csvLayout(file: string, lineNo: number, header: string[]): CsvLayout {
  const layout: CsvLayout = { width: header.length, user: -1, item: -1, kind: -1, value: -1, timestamp: -1, eventId: -1 };
  header.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    const column = CSV_COLUMNS[name];
    if (column === undefined) {
      fail(file, lineNo, `unknown column "${raw}" (expected user, item and optionally kind, value, timestamp, event_id)`);
    }
    const key = column === 'event_id' ? 'eventId' : column;
    if (layout[key] !== -1) fail(file, lineNo, `column "${column}" appears twice`);
    layout[key] = index;
  });
  if (layout.user === -1 || layout.item === -1) fail(file, lineNo, 'the header must name the columns user and item');
  return layout;
}

/** Escapes ':' (and '\') in ids that go into an event key, so that the key stays unambiguous. */
function keyPart(id: string): string {
  return id.indexOf(':') === -1 && id.indexOf('\\') === -1 ? id : id.replace(/[\\:]/g, '\\$&');
}

function parseCsvTime(file: string, lineNo: number, text: string): number | null {
  if (text === '') return null;
  let ms: number;
  if (NUMBER.test(text)) {
    ms = Math.round(Number(text) * 1000);
  } else {
    ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  }
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) {
    fail(file, lineNo, `timestamp "${text}" is neither unix seconds nor an ISO 8601 date-time`);
  }
  return ms;
}

async function planCsv(path: string, isDir: boolean): Promise<ImportPlan> {
  if (isDir) throw new Error(`${path}: the csv format takes a file, not a directory`);
  const first = await readFirstLine(path, 'utf8');
  let hasTime = false;
  if (first !== null) {
    const header = splitCsvRecord(first);
    hasTime = header !== null && header.some((h) => CSV_COLUMNS[h.trim().toLowerCase()] === 'timestamp');
  }
  return {
    format: 'csv',
    file: path,
    encoding: 'utf8',
    hasTime,
    defaultSource: basename(path, extname(path)) || 'csv',
    metadataFiles: [],
    createParser: () => csvParser(path),
    readItems: () => Promise.resolve([]),
  };
}

function csvParser(file: string): RowParser {
  const csv = new CsvRecordAssembler();
  let layout: CsvLayout | null = null;
  return {
    parse(line, lineNo) {
      if (line.length === 0 && !csv.open) return null;
      let f: string[] | null;
      try {
        f = csv.push(line, lineNo);
      } catch (err) {
        if (err instanceof CsvSyntaxError) fail(file, csv.openLine, err.message);
        throw err;
      }
      if (f === null) return null;
      const at = csv.recordLine;
      if (layout === null) {
        layout = csvLayout(file, at, f);
        return null;
      }
      if (f.length !== layout.width) fail(file, at, `expected ${layout.width} fields, got ${f.length}`);
      const user = f[layout.user];
      const item = f[layout.item];
      checkId(file, at, 'user', user, false);
      checkId(file, at, 'item', item, false);

      let kind: InteractionKindName = 'IMPLICIT';
      if (layout.kind !== -1 && f[layout.kind] !== '') {
        const k = f[layout.kind].trim().toUpperCase();
        if (!(INTERACTION_KINDS as readonly string[]).includes(k)) {
          fail(file, at, `kind "${f[layout.kind]}" is not one of ${INTERACTION_KINDS.join(', ')}`);
        }
        kind = k as InteractionKindName;
      }
      let value = 1;
      const valueText = layout.value === -1 ? '' : f[layout.value].trim();
      if (valueText !== '') {
        value = NUMBER.test(valueText) ? Number(valueText) : NaN;
        if (!Number.isFinite(value)) fail(file, at, `value "${valueText}" is not a number`);
      } else if (kind === 'RATING') {
        fail(file, at, 'a RATING needs a value');
      }
      const time = layout.timestamp === -1 ? null : parseCsvTime(file, at, f[layout.timestamp].trim());
      let eventId: string | null = null;
      if (layout.eventId !== -1 && f[layout.eventId] !== '') {
        eventId = f[layout.eventId];
        if (eventId.length > LIMITS.eventId) fail(file, at, `event_id is longer than ${LIMITS.eventId} characters`);
      }
      const key = keyPart(user) + ':' + keyPart(item) + ':' + kind + ':' + timeKey(time);
      return { user, item, kind, value, time, key, eventId };
    },
    end() {
      if (csv.open) fail(file, csv.openLine, 'unterminated quoted field');
    },
  };
}
