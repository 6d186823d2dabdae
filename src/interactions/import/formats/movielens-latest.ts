/** movielens-latest: ratings.csv (userId,movieId,rating,timestamp); movies.csv (movieId,title,genres). */
import { dirname } from 'node:path';
import { CsvRecordAssembler, splitCsvRecord } from '../csv.js';
import { readLines } from '../line-reader.js';
import {
  pickFile,
  optionalFile,
  fail,
  checkId,
  movielensRatingRow,
  splitGenres,
  checkTitle,
  expectHeader,
  type ImportPlan,
  type RowParser,
  type ItemMetadata,
} from '../format-common.js';

export async function planMovielensLatest(path: string, isDir: boolean): Promise<ImportPlan> {
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
      return movielensRatingRow(file, lineNo, f, ['userId', 'movieId']);
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
