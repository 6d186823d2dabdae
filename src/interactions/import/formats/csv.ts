/** csv: a file with a header: user,item and optionally kind,value,timestamp (unix seconds or ISO 8601),event_id. */
import { basename, extname } from 'node:path';
import { CsvRecordAssembler, CsvSyntaxError, splitCsvRecord } from '../csv.js';
import { readFirstLine } from '../line-reader.js';
import {
  NUMBER,
  MAX_TIME_MS,
  fail,
  checkId,
  timeKey,
  type ImportPlan,
  type RowParser,
  type InteractionKindName,
  INTERACTION_KINDS,
  LIMITS,
} from '../format-common.js';

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
  const layout: CsvLayout = {
    width: header.length,
    user: -1,
    item: -1,
    kind: -1,
    value: -1,
    timestamp: -1,
    eventId: -1,
  };
  header.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    const column = CSV_COLUMNS[name];
    if (column === undefined) {
      fail(
        file,
        lineNo,
        `unknown column "${raw}" (expected user, item and optionally kind, value, timestamp, event_id)`,
      );
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

export async function planCsv(path: string, isDir: boolean): Promise<ImportPlan> {
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
