/**
 * Bulk item images from a folder (`npm run import -- --images <folder>`): every file
 * `<external item id>.png|.jpg|.jpeg` (extension case-insensitive, not recursive) whose item exists
 * is normalised like setItemImage does and stored, in batches (one INSERT … ON CONFLICT per batch;
 * safe to re-run: an item's image is replaced). The id is the file name without its extension,
 * verbatim (no decoding). Files of unknown items are skipped; files that cannot be used are
 * rejected with a reason; neither stops the import.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkId } from '../common/validation.js';
import { ImageRejected } from './image-decode.js';
import { upsertItemImages, type Queryable, type StoredImage } from './images.queries.js';
import { checkEncodedSize, normaliseImage, type NormaliseOptions } from './normalise.js';

const IMAGE_FILE = /^(.+)\.(png|jpe?g)$/i;

export interface ImageFolderOptions extends NormaliseOptions {
  /** Files per batch (default 200). */
  batchSize?: number;
  /** Called after each batch with the files handled so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface ImageFolderResult {
  folder: string;
  /** Image files found (by extension). */
  files: number;
  /** Images stored (new or replaced). */
  stored: number;
  /** Files whose item does not exist: external ids. */
  skippedUnknownItem: string[];
  /** Files that could not be used, with the reason, by file name. */
  rejected: { file: string; reason: string }[];
  /** Other entries of the folder (not .png/.jpg/.jpeg files), ignored. */
  ignored: number;
  seconds: number;
}

/** The item id a file name stands for (the name without its .png/.jpg/.jpeg extension), or null for other files. */
export function itemIdOfFile(fileName: string): string | null {
  const match = IMAGE_FILE.exec(fileName);
  return match ? match[1] : null;
}

export async function importItemImageFolder(
  db: Queryable,
  folder: string,
  options: ImageFolderOptions,
): Promise<ImageFolderResult> {
  const started = process.hrtime.bigint();
  const batchSize = options.batchSize ?? 200;
  const entries = await readdir(folder, { withFileTypes: true });
  const result: ImageFolderResult = {
    folder,
    files: 0,
    stored: 0,
    skippedUnknownItem: [],
    rejected: [],
    ignored: 0,
    seconds: 0,
  };

  // Files per item id; an id given by several files (m1.png and m1.jpg) is ambiguous.
  const byId = new Map<string, string[]>();
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const id = entry.isFile() || entry.isSymbolicLink() ? itemIdOfFile(entry.name) : null;
    if (id === null) {
      result.ignored++;
      continue;
    }
    result.files++;
    byId.set(id, [...(byId.get(id) ?? []), entry.name]);
  }
  const work: { id: string; file: string }[] = [];
  for (const [id, files] of byId) {
    if (files.length > 1) {
      for (const file of files)
        result.rejected.push({ file, reason: `ambiguous: several files for item "${id}" (${files.join(', ')})` });
      continue;
    }
    try {
      checkId('id', id);
    } catch (error) {
      result.rejected.push({
        file: files[0],
        reason: `the file name is not a valid item id: ${(error as Error).message.replace(/^id: /, '')}`,
      });
      continue;
    }
    work.push({ id, file: files[0] });
  }

  let done = result.files - work.length;
  for (let start = 0; start < work.length; start += batchSize) {
    const batch = work.slice(start, start + batchSize);
    const { rows } = await db.query<{ id: number; external_id: string }>(
      'SELECT id, external_id FROM items WHERE external_id = ANY($1::text[])',
      [batch.map((w) => w.id)],
    );
    const internal = new Map(rows.map((r) => [r.external_id, r.id]));
    const images: { itemId: number; image: StoredImage; id: string }[] = [];
    for (const { id, file } of batch) {
      const itemId = internal.get(id);
      if (itemId === undefined) {
        result.skippedUnknownItem.push(id);
        continue;
      }
      const filePath = path.join(folder, file);
      try {
        const info = await stat(filePath);
        checkEncodedSize(info.size, options.maxBytes); // before reading it
        images.push({ itemId, id, image: normaliseImage(await readFile(filePath), options) });
      } catch (error) {
        if (error instanceof ImageRejected) result.rejected.push({ file, reason: error.message });
        else if ((error as NodeJS.ErrnoException).code)
          result.rejected.push({ file, reason: `cannot read it: ${(error as Error).message}` });
        else throw error;
      }
    }
    const stored = new Set(await upsertItemImages(db, images));
    result.stored += stored.size;
    // An item deleted between the lookup and the insert.
    for (const x of images) if (!stored.has(x.itemId)) result.skippedUnknownItem.push(x.id);
    done += batch.length;
    options.onProgress?.(done, result.files);
  }
  result.rejected.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return result;
}
