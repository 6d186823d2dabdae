/** movielens-100k: u.data (user \t item \t rating \t timestamp); u.item (latin1) with genre names from u.genre. */
import { dirname } from 'node:path';
import { ImportFormatError, readLines } from '../line-reader.js';
import {
  DIGITS,
  pickFile,
  optionalFile,
  fail,
  checkId,
  movielensRatingRow,
  checkTitle,
  type ImportPlan,
  type RowParser,
  type ItemMetadata,
  LIMITS,
} from '../format-common.js';

/** Genre names of u.genre, used when the file is missing. */
const ML100K_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
];

export async function planMovielens100k(path: string, isDir: boolean): Promise<ImportPlan> {
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
      return movielensRatingRow(file, lineNo, f, ['user id', 'item id']);
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
      if (f.length < 5 + g)
        fail(file, lineNo, `expected ${5 + g} "|"-separated fields (${g} genre flags), got ${f.length}`);
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
