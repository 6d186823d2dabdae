/**
 * The public MovieLens data sets (GroupLens, University of Minnesota), fetched into `data/<name>`
 * for benchmarks and evaluation: `npm run data -- fetch <name>` (scripts/data.ts).
 *
 * Only ml-latest-small may be redistributed, and it is shipped in the repository; MovieLens 100K,
 * 1M and 20M allow research use but not redistribution, so each user downloads them from their
 * publisher. A download is checked against the archive's MD5 that GroupLens publishes beside it
 * (`<url>.md5`), then against the SHA-256 of the extracted files whose exact content the project's
 * reference numbers were measured on (docs/benchmarks.md), before it is moved into place.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { unzipSync } from 'fflate';

export interface DatasetSource {
  name: string;
  /** Where the publisher serves the archive. */
  url: string;
  /** Approximate archive size, for messages. */
  size: string;
  /** The folder inside the archive whose contents become `data/<name>`. */
  root: string;
  /** A file whose presence in `data/<name>` means the set is installed. */
  marker: string;
  /** MD5 of the archive, as the publisher states it beside the file. */
  md5?: string;
  /** SHA-256 of extracted files (path inside `root` → hex digest). */
  files?: Record<string, string>;
  /** One line on the licence. */
  licence: string;
}

const GROUPLENS = 'https://files.grouplens.org/datasets/movielens';

export const MOVIELENS: Readonly<Record<string, DatasetSource>> = Object.freeze({
  'ml-100k': {
    name: 'ml-100k',
    url: `${GROUPLENS}/ml-100k.zip`,
    size: 'about 5 MB',
    root: 'ml-100k/',
    marker: 'u.data',
    md5: '0e33842e24a9c977be4e0107933c0723',
    files: {
      'u.data': '06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490',
      'u.item': '553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701',
      'u1.base': 'ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a',
      'u1.test': '18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950',
    },
    licence: 'research use, not redistributable: see its README',
  },
  'ml-1m': {
    name: 'ml-1m',
    url: `${GROUPLENS}/ml-1m.zip`,
    size: 'about 6 MB',
    root: 'ml-1m/',
    marker: 'ratings.dat',
    md5: 'c4d9eecfca2ab87c1945afe126590906',
    files: {
      'movies.dat': '0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9',
      'users.dat': '1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3',
    },
    licence: 'research use, not redistributable: see its README',
  },
  'ml-20m': {
    name: 'ml-20m',
    url: `${GROUPLENS}/ml-20m.zip`,
    size: 'about 190 MB',
    root: 'ml-20m/',
    marker: 'ratings.csv',
    md5: 'cd245b17a1ae2cc31bb14903e1204af3',
    licence: 'research use, not redistributable: see its README.txt',
  },
  'ml-latest-small': {
    name: 'ml-latest-small',
    url: `${GROUPLENS}/ml-latest-small.zip`,
    size: 'about 1 MB',
    root: 'ml-latest-small/',
    marker: 'ratings.csv',
    // A "development" set that GroupLens may regenerate: no archive checksum is fixed; the files
    // must be the September 2018 release the repository ships (data/ml-latest-small).
    files: {
      'README.txt': '63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404',
      'links.csv': '97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31',
      'movies.csv': '5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07',
      'ratings.csv': 'aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646',
      'tags.csv': '92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d',
    },
    licence: 'redistributable under its licence, non-commercial: see its README.txt; shipped in data/',
  },
});

/** A failed check or a broken archive: the message says what to do. */
export class DatasetError extends Error {}

export interface FetchOptions {
  /** The folder that holds `<name>/` (the project's `data/`). */
  dataDir: string;
  log: (message: string) => void;
  /** An archive downloaded by hand; by default `<dataDir>/<name>.zip` is used when present. */
  zip?: string;
  /** Replace an installed copy. */
  force?: boolean;
}

export type FetchResult =
  | { status: 'present' | 'installed'; dir: string; files: number }
  /** The publisher could not be reached: `message` says where to get the file and where to put it. */
  | { status: 'unreachable'; message: string };

/**
 * Installs `source` into `<dataDir>/<name>`: does nothing when it is there already (its known
 * files are verified), else takes the archive from `options.zip` or `<dataDir>/<name>.zip`, or
 * downloads it; checks the archive's MD5 and the extracted files' SHA-256, then moves the files
 * into place (never a half-extracted folder). Throws {@link DatasetError} on a failed check.
 */
export async function fetchDataset(source: DatasetSource, options: FetchOptions): Promise<FetchResult> {
  const { dataDir, log } = options;
  const target = path.join(dataDir, source.name);
  if (existsSync(path.join(target, source.marker)) && !options.force) {
    await verifyFiles(source, target);
    return { status: 'present', dir: target, files: Object.keys(source.files ?? {}).length };
  }
  await mkdir(dataDir, { recursive: true });
  const local = options.zip ?? path.join(dataDir, `${source.name}.zip`);
  let archive: string;
  let downloaded = false;
  if (options.zip || existsSync(local)) {
    if (!existsSync(local)) throw new DatasetError(`${local} does not exist`);
    log(`Using ${local}`);
    archive = local;
  } else {
    archive = path.join(dataDir, `.${source.name}.zip.part`);
    const result = await download(source, archive, log);
    if (result) return result;
    downloaded = true;
  }
  try {
    const bytes = await readFile(archive);
    if (source.md5) {
      const md5 = createHash('md5').update(bytes).digest('hex');
      if (md5 !== source.md5) {
        throw new DatasetError(
          `${archive}: MD5 ${md5} is not the published ${source.md5} of ${source.url}: a damaged or different file. Delete it and fetch again.`,
        );
      }
      log(`MD5 ${md5} matches the published checksum`);
    }
    const staging = `${target}.partial-${randomBytes(4).toString('hex')}`;
    try {
      const files = await extract(bytes, source, staging);
      await verifyFiles(source, staging);
      if (options.force) await rm(target, { recursive: true, force: true });
      await mkdir(path.dirname(target), { recursive: true });
      await rename(staging, target);
      log(
        `Installed ${files} files in ${target}${source.files ? ` (${Object.keys(source.files).length} checked by SHA-256)` : ''}`,
      );
      return { status: 'installed', dir: target, files };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    if (downloaded) await rm(archive, { force: true });
  }
}

/** The instructions printed when the publisher cannot be reached. */
export function manualInstructions(source: DatasetSource, dataDir: string, reason: string): string {
  return [
    `Could not download ${source.url} (${reason}).`,
    `This machine seems to be offline. On a machine with internet access, download`,
    `  ${source.url}  (${source.size}; ${source.licence})`,
    ...(source.md5 ? [`and check that its MD5 is ${source.md5} (GroupLens publishes it at ${source.url}.md5).`] : []),
    `Then either put the zip at ${path.join(dataDir, `${source.name}.zip`)} and run \`npm run data -- fetch ${source.name}\``,
    `again (it checks and extracts it), or unzip it so that ${path.join(dataDir, source.name, source.marker)} exists.`,
  ].join('\n');
}

/** Downloads to `file`, or returns the 'unreachable' result when the request cannot be made. */
async function download(
  source: DatasetSource,
  file: string,
  log: (m: string) => void,
): Promise<FetchResult | undefined> {
  const dataDir = path.dirname(file);
  let response: Response;
  try {
    response = await fetch(source.url, { signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    return { status: 'unreachable', message: manualInstructions(source, dataDir, networkReason(error)) };
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    return {
      status: 'unreachable',
      message: manualInstructions(source, dataDir, `HTTP ${response.status} ${response.statusText}`),
    };
  }
  const total = Number(response.headers.get('content-length')) || undefined;
  log(`Downloading ${source.url}${total ? ` (${(total / 1e6).toFixed(1)} MB)` : ''}`);
  const t0 = performance.now();
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      createWriteStream(file),
    );
  } catch (error) {
    await rm(file, { force: true });
    return {
      status: 'unreachable',
      message: manualInstructions(source, dataDir, `the download broke off: ${networkReason(error)}`),
    };
  }
  const { size } = await stat(file);
  if (total && size !== total) {
    await rm(file, { force: true });
    throw new DatasetError(`${source.url}: received ${size} of ${total} bytes; fetch again`);
  }
  log(`Downloaded ${(size / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return undefined;
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/**
 * Writes every file under `source.root` of the zip to `dir` (paths relative to the root; entries
 * outside it, folders and macOS metadata skipped); one entry is inflated at a time. Returns the
 * number of files written.
 */
async function extract(zip: Uint8Array, source: DatasetSource, dir: string): Promise<number> {
  const names: string[] = [];
  try {
    unzipSync(zip, {
      filter: (f) => {
        if (f.name.startsWith(source.root) && !f.name.endsWith('/') && !f.name.includes('__MACOSX')) names.push(f.name);
        return false;
      },
    });
  } catch (error) {
    throw new DatasetError(`not a readable zip archive: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (names.length === 0) throw new DatasetError(`the archive has no ${source.root} folder: not ${source.name}`);
  await mkdir(dir, { recursive: true });
  for (const name of names) {
    const relative = name.slice(source.root.length);
    const out = path.resolve(dir, relative);
    if (!out.startsWith(path.resolve(dir) + path.sep)) throw new DatasetError(`unsafe path in the archive: ${name}`);
    let data: Uint8Array;
    try {
      data = unzipSync(zip, { filter: (f) => f.name === name })[name];
    } catch (error) {
      throw new DatasetError(
        `${name}: cannot be extracted (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, data);
  }
  return names.length;
}

/** Checks the SHA-256 of each file `source.files` lists in `dir`. */
async function verifyFiles(source: DatasetSource, dir: string): Promise<void> {
  for (const [file, expected] of Object.entries(source.files ?? {})) {
    const content = await readFile(path.join(dir, file)).catch(() => undefined);
    if (content === undefined) throw new DatasetError(`${source.name}: ${file} is missing`);
    const actual = createHash('sha256').update(content).digest('hex');
    if (actual !== expected) {
      throw new DatasetError(
        `${source.name}: ${file} has SHA-256 ${actual}, not ${expected}: not the release the project's reference numbers were measured on`,
      );
    }
  }
}
