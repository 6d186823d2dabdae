import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsvRecordAssembler, splitCsvRecord } from './csv.js';
import { readFirstLine, readLines } from './line-reader.js';

describe('splitCsvRecord', () => {
  it('splits plain and quoted fields', () => {
    expect(splitCsvRecord('1,Toy Story (1995),Comedy')).toEqual(['1', 'Toy Story (1995)', 'Comedy']);
    expect(splitCsvRecord('11,"American President, The (1995)",Comedy|Drama')).toEqual([
      '11',
      'American President, The (1995)',
      'Comedy|Drama',
    ]);
    expect(splitCsvRecord('"a ""quoted"" word",,""')).toEqual(['a "quoted" word', '', '']);
    expect(splitCsvRecord('a,')).toEqual(['a', '']);
    expect(splitCsvRecord('"a",')).toEqual(['a', '']);
  });

  it('returns null while a quoted field is open and throws on stray quotes', () => {
    expect(splitCsvRecord('1,"open')).toBeNull();
    expect(() => splitCsvRecord('1,"a"b')).toThrow('unexpected character after closing quote');
    expect(() => splitCsvRecord('1,a"b')).toThrow('stray quote');
  });

  it('assembles records across lines and remembers where they started', () => {
    const csv = new CsvRecordAssembler();
    expect(csv.push('1,"first', 7)).toBeNull();
    expect(csv.open).toBe(true);
    expect(csv.push('second",x', 8)).toEqual(['1', 'first\nsecond', 'x']);
    expect(csv.recordLine).toBe(7);
    expect(csv.push('2,y', 9)).toEqual(['2', 'y']);
    expect(csv.recordLine).toBe(9);
  });
});

describe('readLines', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'recoder-lines-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('numbers lines across chunk boundaries, strips CR and a BOM, counts bytes', async () => {
    const file = join(dir, 'a.txt');
    const text = '\ufeffalpha\r\nbeta\n\ngamma é\r\ndelta';
    writeFileSync(file, text);
    const lines: [number, string][] = [];
    let bytes = 0;
    for await (const batch of readLines(file, { chunkSize: 3 })) {
      batch.lines.forEach((l, i) => lines.push([batch.firstLine + i, l]));
      bytes = batch.bytesDone;
    }
    expect(lines).toEqual([
      [1, 'alpha'],
      [2, 'beta'],
      [3, ''],
      [4, 'gamma é'],
      [5, 'delta'],
    ]);
    expect(bytes).toBe(Buffer.byteLength(text));
  });

  it('decodes latin1', async () => {
    const file = join(dir, 'b.txt');
    writeFileSync(file, Buffer.from('73::Misérables, Les (1995)::Drama\n', 'latin1'));
    expect(await readFirstLine(file, 'latin1')).toBe('73::Misérables, Les (1995)::Drama');
  });
});
