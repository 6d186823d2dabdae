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
import { IMPORT_FORMATS, type ImportFormat, type ImportPlan, type InteractionRow } from './format-common.js';
import { readLines } from './line-reader.js';
import { planCsv } from './formats/csv.js';
import { planMovielens100k } from './formats/movielens-100k.js';
import { planMovielens1m } from './formats/movielens-1m.js';
import { planMovielensLatest } from './formats/movielens-latest.js';

export {
  IMPORT_FORMATS,
  INTERACTION_KINDS,
  LIMITS,
  timeKey,
  type ImportFormat,
  type ImportPlan,
  type InteractionKindName,
  type InteractionRow,
  type ItemMetadata,
  type RowParser,
} from './format-common.js';
export { readMovielens1mMovies } from './formats/movielens-1m.js';
export { readMovielens100kGenres, readMovielens100kItems } from './formats/movielens-100k.js';
export { readMovielensLatestMovies } from './formats/movielens-latest.js';

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
