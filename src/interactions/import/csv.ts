/**
 * Minimal RFC 4180 CSV field splitting on top of the line reader: comma separator, fields optionally
 * in double quotes, "" for a quote inside a quoted field, line breaks inside quoted fields (the
 * record then spans several lines). Lines without a quote take a plain split(',') fast path.
 */

/** Splits one complete record; returns null when a quoted field is still open at the end (the
 * caller appends "\n" + the next line and tries again). Throws on text after a closing quote. */
export function splitCsvRecord(text: string): string[] | null {
  if (text.indexOf('"') === -1) return text.split(',');
  const fields: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (i < n && text.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let start = i + 1;
      i = start;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) return null; // still inside the quotes
        if (q + 1 < n && text.charCodeAt(q + 1) === 34) {
          value += text.slice(start, q + 1);
          i = q + 2;
          start = i;
          continue;
        }
        value += text.slice(start, q);
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (text.charCodeAt(i) !== 44 /* , */) {
        throw new CsvSyntaxError(`unexpected character after closing quote at column ${i + 1}`);
      }
      i++;
      if (i === n) {
        fields.push('');
        return fields;
      }
    } else {
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? n : comma;
      const value = text.slice(i, end);
      if (value.indexOf('"') !== -1) throw new CsvSyntaxError(`stray quote in unquoted field ${fields.length + 1}`);
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
      if (i === n) {
        fields.push('');
        return fields;
      }
    }
  }
}

export class CsvSyntaxError extends Error {}

/** A record spanning more than this many characters is reported instead of buffered further. */
const MAX_RECORD_CHARS = 1 << 20;

/**
 * Stateful record assembler: feed lines in order; returns the fields of a completed record (with the
 * line number where it started), or null while a quoted field continues on the next line.
 */
export class CsvRecordAssembler {
  private pending: string | null = null;
  private pendingLine = 0;

  /** Line number where the last completed record started. */
  recordLine = 0;

  push(line: string, lineNo: number): string[] | null {
    let text = line;
    if (this.pending !== null) {
      text = this.pending + '\n' + line;
    } else {
      this.pendingLine = lineNo;
    }
    const fields = splitCsvRecord(text);
    if (fields === null) {
      if (text.length > MAX_RECORD_CHARS) {
        throw new CsvSyntaxError(`quoted field not closed within ${MAX_RECORD_CHARS} characters`);
      }
      this.pending = text;
      return null;
    }
    this.pending = null;
    this.recordLine = this.pendingLine;
    return fields;
  }

  /** True when the input ended inside a quoted field; `openLine` is where that record started. */
  get open(): boolean {
    return this.pending !== null;
  }

  get openLine(): number {
    return this.pendingLine;
  }
}
