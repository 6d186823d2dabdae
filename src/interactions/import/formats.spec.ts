import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planImport, readInteractionBatches, type ImportPlan, type InteractionRow } from './formats.js';
import { eventIdOf } from './importer.js';
import { ImportFormatError } from './line-reader.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'recoder-formats-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh directory with the given files (latin1 when asked). */
function dataset(files: Record<string, string | { latin1: string }>): string {
  const real = mkdtempSync(join(dir, 'set-'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(real, name), typeof content === 'string' ? content : Buffer.from(content.latin1, 'latin1'));
  }
  return real;
}

async function rowsOf(plan: ImportPlan): Promise<InteractionRow[]> {
  const rows: InteractionRow[] = [];
  for await (const batch of readInteractionBatches(plan)) rows.push(...batch.rows);
  return rows;
}

async function errorOf(promise: Promise<unknown>): Promise<ImportFormatError> {
  try {
    await promise;
  } catch (err) {
    return err as ImportFormatError;
  }
  throw new Error('expected an error');
}

describe('movielens-1m', () => {
  it('parses ratings.dat as RATING rows with times and deterministic keys', async () => {
    const d = dataset({ 'ratings.dat': '1::1193::5::978300760\n1::661::3.5::978302109\n2::1193::4::978298413\n' });
    const plan = await planImport(d, 'movielens-1m');
    expect(plan.hasTime).toBe(true);
    expect(plan.file).toBe(join(d, 'ratings.dat'));
    const rows = await rowsOf(plan);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual({
      user: '1',
      item: '661',
      kind: 'RATING',
      value: 3.5,
      time: 978302109000,
      key: '1:661:978302109',
      eventId: null,
    });
    expect(eventIdOf(rows[1], 'ml-1m')).toBe('ml-1m:1:661:978302109');
  });

  it('parses the user-movie pairs file as IMPLICIT value 1 without time', async () => {
    const d = dataset({ 'ratings.user-movie-pairs.dat': '1::1193\r\n1::661\r\n\r\n6040::1097\r\n' });
    const plan = await planImport(d, 'movielens-1m');
    expect(plan.hasTime).toBe(false);
    const rows = await rowsOf(plan);
    expect(rows.map((r) => [r.user, r.item, r.kind, r.value, r.time])).toEqual([
      ['1', '1193', 'IMPLICIT', 1, null],
      ['1', '661', 'IMPLICIT', 1, null],
      ['6040', '1097', 'IMPLICIT', 1, null],
    ]);
    expect(eventIdOf(rows[2], 'ml-1m')).toBe('ml-1m:6040:1097:');
  });

  it('prefers ratings.dat in a directory and accepts the ratings file itself as the path', async () => {
    const d = dataset({
      'ratings.dat': '1::2::3::4\n',
      'ratings.user-movie-pairs.dat': '1::2\n',
      'movies.dat': '2::Heat (1995)::Action\n',
    });
    expect((await planImport(d, 'movielens-1m')).file).toBe(join(d, 'ratings.dat'));
    const plan = await planImport(join(d, 'ratings.user-movie-pairs.dat'), 'movielens-1m');
    expect(plan.file).toBe(join(d, 'ratings.user-movie-pairs.dat'));
    expect(plan.metadataFiles).toEqual([join(d, 'movies.dat')]);
  });

  it('reads latin1 movie titles and splits genres into categories', async () => {
    const d = dataset({
      'ratings.user-movie-pairs.dat': '1::73\n',
      'movies.dat': {
        latin1:
          "73::Misérables, Les (1995)::Drama|Musical\n570::Slingshot, The (Kådisbellan ) (1993)::Comedy|Drama\n1::Toy Story (1995)::Animation|Children's|Comedy\n",
      },
    });
    const items = await (await planImport(d, 'movielens-1m')).readItems();
    expect(items).toEqual([
      { externalId: '73', title: 'Misérables, Les (1995)', categories: ['Drama', 'Musical'] },
      { externalId: '570', title: 'Slingshot, The (Kådisbellan ) (1993)', categories: ['Comedy', 'Drama'] },
      { externalId: '1', title: 'Toy Story (1995)', categories: ['Animation', "Children's", 'Comedy'] },
    ]);
  });

  it('rejects a malformed line naming the file and line number', async () => {
    const d = dataset({ 'ratings.dat': '1::1193::5::978300760\n1::661::3::978302109\n1::914::x::978301968\n' });
    const plan = await planImport(d, 'movielens-1m');
    const err = await errorOf(rowsOf(plan));
    expect(err).toBeInstanceOf(ImportFormatError);
    expect(err.line).toBe(3);
    expect(err.file).toBe(join(d, 'ratings.dat'));
    expect(err.message).toBe(`${join(d, 'ratings.dat')}:3: rating "x" is not a number`);
  });

  it('rejects a line whose layout differs from the first line', async () => {
    const d = dataset({ 'ratings.user-movie-pairs.dat': '1::1\n1::2\n1::3::5::978300760\n' });
    const err = await errorOf(rowsOf(await planImport(d, 'movielens-1m')));
    expect(err.line).toBe(3);
    expect(err.message).toContain('expected UserID::MovieID');
  });

  it('rejects non-numeric ids and missing fields', async () => {
    const d = dataset({ 'ratings.user-movie-pairs.dat': '1::1\nabc::2\n' });
    expect((await errorOf(rowsOf(await planImport(d, 'movielens-1m')))).line).toBe(2);
    const e = dataset({ 'ratings.user-movie-pairs.dat': '1::1\n7::\n' });
    expect((await errorOf(rowsOf(await planImport(e, 'movielens-1m')))).message).toContain(':2: MovieID is empty');
  });
});

describe('movielens-100k', () => {
  const genres = 'unknown|0\nAction|1\nAdventure|2\nAnimation|3\n';
  it('parses u.data and maps u.item genre flags to the names in u.genre', async () => {
    const d = dataset({
      'u.data': '196\t242\t3\t881250949\n186\t302\t3\t891717742\n',
      'u.genre': genres + '\n',
      'u.item': {
        latin1:
          '1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1\n' +
          '2|Café au Lait (1993)|01-Jan-1993||http://x|0|1|1|0\n' +
          '267|unknown||||1|0|0|0\n',
      },
    });
    const plan = await planImport(d, 'movielens-100k');
    expect(await rowsOf(plan)).toEqual([
      {
        user: '196',
        item: '242',
        kind: 'RATING',
        value: 3,
        time: 881250949000,
        key: '196:242:881250949',
        eventId: null,
      },
      {
        user: '186',
        item: '302',
        kind: 'RATING',
        value: 3,
        time: 891717742000,
        key: '186:302:891717742',
        eventId: null,
      },
    ]);
    expect(await plan.readItems()).toEqual([
      { externalId: '1', title: 'Toy Story (1995)', categories: ['Animation'] },
      { externalId: '2', title: 'Café au Lait (1993)', categories: ['Action', 'Adventure'] },
      { externalId: '267', title: 'unknown', categories: ['unknown'] },
    ]);
  });

  it('takes genre names from u.genre, not from a built-in list', async () => {
    const d = dataset({ 'u.data': '1\t1\t5\t1\n', 'u.genre': 'Noir|1\nSci-Fi|0\n', 'u.item': '1|X|||u|1|1\n' });
    expect(await (await planImport(d, 'movielens-100k')).readItems()).toEqual([
      { externalId: '1', title: 'X', categories: ['Sci-Fi', 'Noir'] },
    ]);
  });

  it('rejects a u.item line with the wrong number of genre flags, with its line number', async () => {
    const d = dataset({ 'u.data': '1\t1\t5\t1\n', 'u.genre': genres, 'u.item': '1|A|||u|0|0|0|1\n2|B|||u|0|1\n' });
    const err = await errorOf((await planImport(d, 'movielens-100k')).readItems());
    expect(err.message).toBe(`${join(d, 'u.item')}:2: expected 9 "|"-separated fields (4 genre flags), got 7`);
  });

  it('rejects a u.data line that is not tab-separated', async () => {
    const d = dataset({ 'u.data': '196\t242\t3\t881250949\n186 302 3 891717742\n' });
    const err = await errorOf(rowsOf(await planImport(d, 'movielens-100k')));
    expect(err.line).toBe(2);
  });
});

describe('movielens-latest', () => {
  it('parses ratings.csv and movies.csv with quoted titles containing commas and quotes', async () => {
    const d = dataset({
      'ratings.csv': 'userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n',
      'movies.csv':
        'movieId,title,genres\r\n' +
        '1,Toy Story (1995),Adventure|Animation\r\n' +
        '11,"American President, The (1995)",Comedy|Drama|Romance\r\n' +
        '7789,"11\'09""01 - September 11 (2002)",Drama\r\n' +
        '182727,"Cité des enfants perdus, La (1995)",(no genres listed)\r\n',
    });
    const plan = await planImport(d, 'movielens-latest');
    const rows = await rowsOf(plan);
    expect(rows.map((r) => [r.user, r.item, r.value, r.time, r.kind])).toEqual([
      ['1', '1', 4, 964982703000, 'RATING'],
      ['1', '3', 4.5, 964981247000, 'RATING'],
    ]);
    expect(await plan.readItems()).toEqual([
      { externalId: '1', title: 'Toy Story (1995)', categories: ['Adventure', 'Animation'] },
      { externalId: '11', title: 'American President, The (1995)', categories: ['Comedy', 'Drama', 'Romance'] },
      { externalId: '7789', title: '11\'09"01 - September 11 (2002)', categories: ['Drama'] },
      { externalId: '182727', title: 'Cité des enfants perdus, La (1995)', categories: [] },
    ]);
  });

  it('rejects a wrong header and a short row', async () => {
    const bad = dataset({ 'ratings.csv': 'user,movie,rating,timestamp\n1,1,4,1\n' });
    expect((await errorOf(rowsOf(await planImport(bad, 'movielens-latest')))).message).toContain(':1: expected header');
    const short = dataset({ 'ratings.csv': 'userId,movieId,rating,timestamp\n1,1,4,1\n2,2,5\n' });
    expect((await errorOf(rowsOf(await planImport(short, 'movielens-latest')))).line).toBe(3);
  });
});

describe('csv', () => {
  function csvFile(content: string): string {
    return join(dataset({ 'events.csv': content }), 'events.csv');
  }

  it('reads user,item only as IMPLICIT without time; source defaults to the file name', async () => {
    const plan = await planImport(csvFile('user,item\nu1,i1\nu2,i2\n'), 'csv');
    expect(plan.hasTime).toBe(false);
    expect(plan.defaultSource).toBe('events');
    const rows = await rowsOf(plan);
    expect(rows[0]).toEqual({
      user: 'u1',
      item: 'i1',
      kind: 'IMPLICIT',
      value: 1,
      time: null,
      key: 'u1:i1:IMPLICIT:',
      eventId: null,
    });
  });

  it('reads kind, value, unix and ISO timestamps, event ids and quoted commas', async () => {
    const file = csvFile(
      'user_id,item_id,kind,value,timestamp,event_id\n' +
        'alice,"book, vol. 1",purchase,2,1700000000,\n' +
        'bob,sku:9,Rating,4.5,2023-11-14T22:13:20Z,evt-42\n' +
        'carol,x,,,,\n',
    );
    const plan = await planImport(file, 'csv');
    expect(plan.hasTime).toBe(true);
    const rows = await rowsOf(plan);
    expect(rows[0]).toMatchObject({
      user: 'alice',
      item: 'book, vol. 1',
      kind: 'PURCHASE',
      value: 2,
      time: 1700000000000,
      eventId: null,
    });
    expect(eventIdOf(rows[0], 'shop')).toBe('shop:alice:book, vol. 1:PURCHASE:1700000000');
    expect(rows[1]).toMatchObject({
      user: 'bob',
      item: 'sku:9',
      kind: 'RATING',
      value: 4.5,
      time: 1700000000000,
      eventId: 'evt-42',
    });
    expect(eventIdOf(rows[1], 'shop')).toBe('evt-42');
    expect(rows[1].key).toBe('bob:sku\\:9:RATING:1700000000'); // ':' in ids is escaped in the key
    expect(rows[2]).toMatchObject({ user: 'carol', item: 'x', kind: 'IMPLICIT', value: 1, time: null });
  });

  it('keeps a quoted field spanning lines and reports later errors at the right line', async () => {
    const file = csvFile('user,item,kind\n"multi\nline",i1,view\nu2,i2,teleport\n');
    const err = await errorOf(rowsOf(await planImport(file, 'csv')));
    expect(err.line).toBe(4);
    expect(err.message).toContain('kind "teleport" is not one of');
  });

  it('rejects unknown columns, a missing item column, bad values and times, and open quotes', async () => {
    const cases: [string, number, string][] = [
      ['user,item,colour\nu,i,red\n', 1, 'unknown column "colour"'],
      ['user,kind\nu,VIEW\n', 1, 'must name the columns user and item'],
      ['user,item,value\nu,i,1\nu,i,lots\n', 3, 'value "lots" is not a number'],
      ['user,item,kind\nu,i,RATING\n', 2, 'a RATING needs a value'],
      ['user,item,timestamp\nu,i,yesterday\n', 2, 'timestamp "yesterday"'],
      ['user,item\nu,i,extra\n', 2, 'expected 2 fields, got 3'],
      ['user,item\n,i\n', 2, 'user is empty'],
      ['user,item\nu,i\n"open,i\n', 3, 'unterminated quoted field'],
      ['user,item\nu,"i"x\n', 2, 'after closing quote'],
    ];
    for (const [content, line, message] of cases) {
      const err = await errorOf(rowsOf(await planImport(csvFile(content), 'csv')));
      expect({ line: err.line, message: err.message }).toEqual({ line, message: expect.stringContaining(message) });
    }
  });

  it('rejects a directory', async () => {
    await expect(planImport(dataset({ 'a.csv': 'user,item\n' }), 'csv')).rejects.toThrow('takes a file');
  });
});

describe('formats', () => {
  it('rejects an unknown format with the list of formats', async () => {
    await expect(planImport(dir, 'movielens-20m')).rejects.toThrow(
      'Unknown import format "movielens-20m"; expected one of: movielens-100k, movielens-1m, movielens-latest, csv',
    );
  });

  it('rejects a missing path and a directory without the expected file', async () => {
    await expect(planImport(join(dir, 'nope'), 'csv')).rejects.toThrow('no such file or directory');
    await expect(planImport(dataset({ 'x.txt': '' }), 'movielens-1m')).rejects.toThrow(
      'no ratings.dat or ratings.user-movie-pairs.dat',
    );
  });

  it('hashes event ids that would exceed 256 characters', () => {
    const long = 'x'.repeat(300);
    const id = eventIdOf(
      { user: long, item: 'i', kind: 'VIEW', value: 1, time: null, key: `${long}:i:VIEW:`, eventId: null },
      'src',
    );
    expect(id).toMatch(/^src:sha256:[0-9a-f]{64}$/);
  });
});
