import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { PROJECT_ROOT } from '../config/env.js';
import { DatasetError, fetchDataset, MOVIELENS, type DatasetSource } from './movielens.js';

const text = (s: string) => new TextEncoder().encode(s);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** A small archive laid out like GroupLens' zips: everything under one folder. */
const RATINGS = 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n';
const README = 'A test data set.\n';
const ZIP = zipSync({
  'ml-test/ratings.csv': text(RATINGS),
  'ml-test/README.txt': text(README),
  'ml-test/extra/notes.txt': text('nested\n'),
  '__MACOSX/ml-test/._ratings.csv': text('resource fork'),
  'elsewhere.txt': text('outside the root'),
});

/** Serves `body` at /ml-test.zip on loopback; counts the requests. */
async function serve(body: Uint8Array): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    if (req.url !== '/ml-test.zip') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length }).end(Buffer.from(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ml-test.zip`,
    requests: () => requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A loopback URL where nothing listens (connection refused, as offline). */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}/ml-test.zip`;
}

const source = (url: string, over: Partial<DatasetSource> = {}): DatasetSource => ({
  name: 'ml-test',
  url,
  size: 'tiny',
  root: 'ml-test/',
  marker: 'ratings.csv',
  md5: md5(ZIP),
  files: { 'ratings.csv': sha256(RATINGS), 'README.txt': sha256(README) },
  licence: 'test only',
  ...over,
});

describe('fetchDataset', () => {
  let dataDir: string;
  const log: string[] = [];
  const options = () => ({ dataDir, log: (m: string) => void log.push(m) });

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'recoder-data-'));
    log.length = 0;
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('offline: says where to download the file and where to put it, and writes nothing', async () => {
    const url = await deadUrl();
    const result = await fetchDataset(source(url), options());
    expect(result.status).toBe('unreachable');
    const message = (result as { message: string }).message;
    expect(message).toContain(`Could not download ${url} (ECONNREFUSED)`);
    expect(message).toContain(`check that its MD5 is ${md5(ZIP)}`);
    expect(message).toContain(path.join(dataDir, 'ml-test.zip'));
    expect(message).toContain(path.join(dataDir, 'ml-test', 'ratings.csv'));
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('downloads, checks the MD5 and the files, extracts the root folder only; a second call finds it present', async () => {
    const server = await serve(ZIP);
    try {
      const result = await fetchDataset(source(server.url), options());
      expect(result).toEqual({ status: 'installed', dir: path.join(dataDir, 'ml-test'), files: 3 });
      expect(await readFile(path.join(dataDir, 'ml-test', 'ratings.csv'), 'utf8')).toBe(RATINGS);
      expect(await readFile(path.join(dataDir, 'ml-test', 'extra', 'notes.txt'), 'utf8')).toBe('nested\n');
      expect((await readdir(path.join(dataDir, 'ml-test'))).sort()).toEqual(['README.txt', 'extra', 'ratings.csv']);
      expect(await readdir(dataDir)).toEqual(['ml-test']); // no archive or partial folder left
      expect(log).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^Downloading http/),
          `MD5 ${md5(ZIP)} matches the published checksum`,
        ]),
      );

      expect(await fetchDataset(source(server.url), options())).toEqual({
        status: 'present',
        dir: path.join(dataDir, 'ml-test'),
        files: 2,
      });
      expect(server.requests()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('uses a zip put in the data folder by hand, without the network, and keeps it', async () => {
    await writeFile(path.join(dataDir, 'ml-test.zip'), ZIP);
    const result = await fetchDataset(source(await deadUrl()), options());
    expect(result.status).toBe('installed');
    expect(await readFile(path.join(dataDir, 'ml-test', 'README.txt'), 'utf8')).toBe(README);
    expect(existsSync(path.join(dataDir, 'ml-test.zip'))).toBe(true);
  });

  it('rejects an archive whose MD5 differs, and installs nothing', async () => {
    const server = await serve(ZIP);
    try {
      const wrong = 'f'.repeat(32);
      await expect(fetchDataset(source(server.url, { md5: wrong }), options())).rejects.toThrow(
        new RegExp(`MD5 ${md5(ZIP)} is not the published ${wrong}`),
      );
      expect(await readdir(dataDir)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('rejects extracted files whose SHA-256 differs, and installs nothing', async () => {
    await writeFile(path.join(dataDir, 'ml-test.zip'), ZIP);
    const files = { 'ratings.csv': sha256('other ratings') };
    await expect(fetchDataset(source('http://127.0.0.1:9/', { files }), options())).rejects.toThrow(
      /ml-test: ratings\.csv has SHA-256 [0-9a-f]{64}, not /,
    );
    expect(await readdir(dataDir)).toEqual(['ml-test.zip']);
  });

  it('rejects a damaged archive, one without the expected folder, and paths that leave the folder', async () => {
    const zip = path.join(dataDir, 'by-hand.zip');
    const opts = { ...options(), zip };
    await writeFile(zip, ZIP.subarray(0, ZIP.length - 30)); // truncated: no central directory
    await expect(fetchDataset(source('http://127.0.0.1:9/', { md5: undefined }), opts)).rejects.toThrow(DatasetError);
    await writeFile(zip, zipSync({ 'other/ratings.csv': text(RATINGS) }));
    await expect(fetchDataset(source('http://127.0.0.1:9/', { md5: undefined }), opts)).rejects.toThrow(
      'the archive has no ml-test/ folder',
    );
    await writeFile(zip, zipSync({ 'ml-test/../../evil.txt': text('x'), 'ml-test/ratings.csv': text(RATINGS) }));
    await expect(fetchDataset(source('http://127.0.0.1:9/', { md5: undefined, files: {} }), opts)).rejects.toThrow(
      'unsafe path in the archive: ml-test/../../evil.txt',
    );
    expect((await readdir(dataDir)).sort()).toEqual(['by-hand.zip']);
  });
});

describe('the MovieLens catalogue', () => {
  it('names the publisher’s archives and a checksum for each', () => {
    expect(Object.keys(MOVIELENS).sort()).toEqual(['ml-100k', 'ml-1m', 'ml-20m', 'ml-latest-small']);
    for (const s of Object.values(MOVIELENS)) {
      expect(s.url).toBe(`https://files.grouplens.org/datasets/movielens/${s.name}.zip`);
      expect(s.root).toBe(`${s.name}/`);
      expect(s.md5 !== undefined || Object.keys(s.files ?? {}).length > 0).toBe(true);
      if (s.md5) expect(s.md5).toMatch(/^[0-9a-f]{32}$/);
    }
  });

  it('ml-latest-small is the shipped copy: present, every file matching its SHA-256, no download', async () => {
    const result = await fetchDataset(MOVIELENS['ml-latest-small'], {
      dataDir: path.join(PROJECT_ROOT, 'data'),
      log: () => {},
    });
    expect(result).toEqual({ status: 'present', dir: path.join(PROJECT_ROOT, 'data', 'ml-latest-small'), files: 5 });
  });
});
