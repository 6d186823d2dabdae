/** movielens-1m: ratings.dat (UserID::MovieID::Rating::Timestamp) or ratings.user-movie-pairs.dat (UserID::MovieID, IMPLICIT); movies.dat (latin1). */
import { dirname } from 'node:path';
import { ImportFormatError, readFirstLine, readLines } from '../line-reader.js';
import {
  pickFile,
  optionalFile,
  fail,
  checkId,
  movielensRatingRow,
  splitGenres,
  checkTitle,
  type ImportPlan,
  type RowParser,
  type ItemMetadata,
} from '../format-common.js';

export async function planMovielens1m(path: string, isDir: boolean): Promise<ImportPlan> {
  const file = isDir ? pickFile(path, ['ratings.dat', 'ratings.user-movie-pairs.dat'], 'movielens-1m') : path;
  const dir = dirname(file);
  const first = await readFirstLine(file, 'latin1');
  // Layout from the first line: 4 fields = ratings, 2 = user-movie pairs. Every later line must match.
  const fields = first === null ? 2 : first.split('::').length;
  if (fields !== 2 && fields !== 4) {
    throw new ImportFormatError(
      file,
      1,
      `expected UserID::MovieID::Rating::Timestamp or UserID::MovieID, got "${first}"`,
    );
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
      if (sep === -1 || line.indexOf('::', sep + 2) !== -1)
        fail(file, lineNo, `expected UserID::MovieID, got "${line}"`);
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
      return movielensRatingRow(file, lineNo, f, ['UserID', 'MovieID']);
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
