/**
 * Streaming line reader: reads a file in large chunks and yields batches of lines with their line
 * numbers and the number of bytes read so far. Batches (not single lines) keep the per-line cost
 * of async iteration out of the import's hot loop.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export type TextEncoding = 'utf8' | 'latin1';

export interface LineBatch {
  /** Lines without their terminator ("\n" or "\r\n"). Empty lines are included. */
  lines: string[];
  /** 1-based line number of lines[0]. */
  firstLine: number;
  /** Bytes of the file consumed so far (for progress). */
  bytesDone: number;
}

export interface ReadLinesOptions {
  encoding?: TextEncoding;
  /** Read size; 256 KiB by default. */
  chunkSize?: number;
}

/** Raised for a line that does not fit the format; names the file and the 1-based line. */
export class ImportFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    reason: string,
  ) {
    super(line === null ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.name = 'ImportFormatError';
  }
}

export async function* readLines(path: string, options: ReadLinesOptions = {}): AsyncGenerator<LineBatch> {
  const encoding = options.encoding ?? 'utf8';
  const decoder = new StringDecoder(encoding);
  const stream = createReadStream(path, { highWaterMark: options.chunkSize ?? 256 * 1024 });
  let rest = '';
  let lineNo = 1;
  let bytesDone = 0;
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    bytesDone += chunk.length;
    let text = decoder.write(chunk);
    if (first) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // UTF-8 byte order mark
    }
    if (rest.length > 0) text = rest + text;
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    if (lines.length === 0) continue;
    stripCarriageReturns(lines);
    yield { lines, firstLine: lineNo, bytesDone };
    lineNo += lines.length;
  }
  rest += decoder.end();
  if (rest.length > 0) {
    const lines = [rest];
    stripCarriageReturns(lines);
    yield { lines, firstLine: lineNo, bytesDone };
  }
}

function stripCarriageReturns(lines: string[]): void {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > 0 && line.charCodeAt(line.length - 1) === 13) lines[i] = line.slice(0, -1);
  }
}

/** The first non-empty line of a file (for format detection), or null. Reads at most `limit` bytes. */
export async function readFirstLine(
  path: string,
  encoding: TextEncoding = 'utf8',
  limit = 1 << 20,
): Promise<string | null> {
  let seen = 0;
  for await (const batch of readLines(path, { encoding, chunkSize: 64 * 1024 })) {
    for (const line of batch.lines) if (line.trim().length > 0) return line;
    seen = batch.bytesDone;
    if (seen >= limit) break;
  }
  return null;
}
