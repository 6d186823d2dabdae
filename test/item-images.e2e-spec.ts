import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import jpeg from 'jpeg-js';
import pg from 'pg';
import pngjs from 'pngjs';
import { importItemImageFolder, itemIdOfFile } from '../src/images/image-folder.js';
import { ITEM_IMAGES_CHANGED_CHANNEL, readItemImages } from '../src/images/images.queries.js';
import { bootApp, gql, sql, testDatabaseUrl, truncateAll } from './helpers.js';
import { stripedPng } from './image-fixtures.js';

type Rgb = [number, number, number];

/** An RGBA PNG whose pixel (x, y) is f(x, y). */
function png(width: number, height: number, f: (x: number, y: number) => [number, number, number, number]): Buffer {
  const image = new pngjs.PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) image.data.set(f(x, y), (y * width + x) * 4);
  return pngjs.PNG.sync.write(image);
}
function jpg(width: number, height: number, f: (x: number, y: number) => Rgb): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...f(x, y), 255], (y * width + x) * 4);
  return jpeg.encode({ width, height, data }, 100).data;
}
/** A returned base64 PNG as its size and RGB pixels. */
function decodePng(base64: string): { width: number; height: number; rgb: (x: number, y: number) => Rgb } {
  const image = pngjs.PNG.sync.read(Buffer.from(base64, 'base64'));
  return {
    width: image.width,
    height: image.height,
    rgb: (x, y) => Array.from(image.data.subarray((y * image.width + x) * 4, (y * image.width + x) * 4 + 3)) as Rgb,
  };
}
const near = (a: number[], b: number[], tolerance: number) => a.every((v, i) => Math.abs(v - b[i]) <= tolerance);

const SET = `mutation($itemId: ID!, $image: String!) { setItemImage(itemId: $itemId, image: $image) { size channels sourceType sourceBytes updatedAt } }`;
const RED: [number, number, number, number] = [255, 0, 0, 255];
const BLUE: [number, number, number, number] = [0, 0, 255, 255];
/** 48×24, the centred 24×24 square (x 12..35) red on the left half, blue on the right; transparent outside. */
const SPLIT_PNG = png(48, 24, (x) => (x < 12 || x >= 36 ? [0, 255, 0, 0] : x < 24 ? RED : BLUE));

/** What item_images holds (evidence that a rejected call wrote nothing). */
const imageRows = () =>
  sql<{ item: string; size: number; channels: number; hash: string; source_type: string; updated_at: Date }>(
    `SELECT i.external_id AS item, im.size, im.channels, md5(im.pixels) AS hash, im.source_type, im.updated_at
       FROM item_images im JOIN items i ON i.id = im.item_id ORDER BY i.external_id`,
  );

describe('item images over GraphQL', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    await truncateAll();
    app = await bootApp(); // RECODER_IMAGE_* defaults: 32×32 RGB, 2 MiB
    const seeded = await gql(
      app,
      'mutation { upsertItems(items: [{ id: "m1" }, { id: "m2" }, { id: "m3" }, { id: "m4" }]) { id } }',
    );
    expect(seeded.errors).toBeUndefined();
  });
  afterAll(async () => {
    await app.close();
  });

  it('stores a PNG normalised (crop, alpha over white, 32×32 RGB) and returns it as a PNG', async () => {
    const res = await gql(app, SET, { itemId: 'm1', image: SPLIT_PNG.toString('base64') });
    expect(res.errors).toBeUndefined();
    expect(res.data!.setItemImage).toMatchObject({
      size: 32,
      channels: 3,
      sourceType: 'png',
      sourceBytes: SPLIT_PNG.length,
    });

    const [row] = await sql(
      'SELECT size, channels, octet_length(pixels)::int AS bytes, source_type, source_bytes FROM item_images',
    );
    expect(row).toEqual({
      size: 32,
      channels: 3,
      bytes: 32 * 32 * 3,
      source_type: 'png',
      source_bytes: SPLIT_PNG.length,
    });

    const read = await gql(app, '{ item(id: "m1") { image { size channels sourceType png } } }');
    expect(read.errors).toBeUndefined();
    const { image } = read.data!.item;
    expect(image).toMatchObject({ size: 32, channels: 3, sourceType: 'png' });
    const decoded = decodePng(image.png);
    expect([decoded.width, decoded.height]).toEqual([32, 32]);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) expect(decoded.rgb(x, y)).toEqual(x < 16 ? [255, 0, 0] : [0, 0, 255]);
  });

  it('stores a JPEG (also as a data: URL) and batches Item.image over a page of items', async () => {
    const bytes = jpg(40, 40, (_x, y) => (y < 20 ? [240, 240, 20] : [20, 120, 20]));
    const res = await gql(app, SET, { itemId: 'm2', image: `data:image/jpeg;base64,${bytes.toString('base64')}` });
    expect(res.errors).toBeUndefined();
    expect(res.data!.setItemImage).toMatchObject({
      size: 32,
      channels: 3,
      sourceType: 'jpeg',
      sourceBytes: bytes.length,
    });

    const page = await gql(app, '{ items(first: 10) { nodes { id image { sourceType png } } } }');
    expect(page.errors).toBeUndefined();
    const byId = Object.fromEntries(page.data!.items.nodes.map((n: { id: string; image: unknown }) => [n.id, n.image]));
    expect(byId.m3).toBeNull();
    expect(byId.m1.sourceType).toBe('png');
    const decoded = decodePng(byId.m2.png);
    expect(near(decoded.rgb(5, 3), [240, 240, 20], 8)).toBe(true);
    expect(near(decoded.rgb(5, 28), [20, 120, 20], 8)).toBe(true);
  });

  it('replaces an image', async () => {
    const before = (await imageRows()).find((r) => r.item === 'm1')!;
    const gray = jpg(16, 16, () => [90, 90, 90]);
    const res = await gql(app, SET, { itemId: 'm1', image: gray.toString('base64') });
    expect(res.data!.setItemImage).toMatchObject({ sourceType: 'jpeg', sourceBytes: gray.length });
    const after = (await imageRows()).filter((r) => r.item === 'm1');
    expect(after).toHaveLength(1);
    expect(after[0].hash).not.toBe(before.hash);
    expect(after[0].updated_at.getTime()).toBeGreaterThanOrEqual(before.updated_at.getTime());
    const read = await gql(app, '{ item(id: "m1") { image { png } } }');
    expect(near(decodePng(read.data!.item.image.png).rgb(10, 10), [90, 90, 90], 2)).toBe(true);
  });

  it('rejects bad images naming the field, and unknown items, writing nothing', async () => {
    const before = await imageRows();
    const hugePng = png(2, 2, () => RED);
    hugePng.writeUInt32BE(5000, 16); // IHDR width 5000
    const cases: [string, string, string, RegExp][] = [
      ['m3', 'not base64 at all!', 'image', /image: is not base64/],
      ['m3', '', 'image', /image: must not be empty/],
      [
        'm3',
        Buffer.alloc(2 * 1024 * 1024 + 1).toString('base64'),
        'image',
        /image: must be at most 2 MiB \(2097152 bytes\) encoded/,
      ],
      [
        'm3',
        Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1').toString('base64'),
        'image',
        /image: not a PNG or JPEG/,
      ],
      ['m3', hugePng.toString('base64'), 'image', /image: 5000×2 pixels is too large: at most 4096×4096/],
      ['m3', SPLIT_PNG.subarray(0, 60).toString('base64'), 'image', /image: corrupt/],
      ['m1', Buffer.from([0xff, 0xd8, 0xff, 0xd9]).toString('base64'), 'image', /image: corrupt JPEG/],
      ['nope', SPLIT_PNG.toString('base64'), 'itemId', /Item "nope" not found/],
      [' m1', SPLIT_PNG.toString('base64'), 'itemId', /itemId: must not start or end with whitespace/],
    ];
    for (const [itemId, image, field, message] of cases) {
      const res = await gql(app, SET, { itemId, image });
      expect({ itemId, data: res.data }).toEqual({ itemId, data: null });
      const error = res.errors![0];
      expect({ code: error.extensions.code, field: error.extensions.field }).toEqual({
        code: field === 'itemId' && itemId === 'nope' ? 'NOT_FOUND' : 'BAD_USER_INPUT',
        field,
      });
      expect(error.message).toMatch(message);
    }
    const tooLarge = await gql(app, SET, { itemId: 'm3', image: Buffer.alloc(3 * 1024 * 1024).toString('base64') });
    expect(tooLarge.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'image',
      reason: 'too-large',
      max: 2 * 1024 * 1024,
    });
    expect(await imageRows()).toEqual(before);
  });

  it('removes an image (NOT_FOUND for an unknown item) and announces every change on recoder_item_images_changed', async () => {
    const listener = new pg.Client({ connectionString: testDatabaseUrl() });
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (n) => {
      if (n.channel === ITEM_IMAGES_CHANGED_CHANNEL) payloads.push(n.payload ?? '');
    });
    await listener.query(`LISTEN ${ITEM_IMAGES_CHANGED_CHANNEL}`);
    try {
      await gql(app, SET, { itemId: 'm4', image: SPLIT_PNG.toString('base64') });
      const removed = await gql(app, 'mutation { removeItemImage(itemId: "m4") }');
      expect(removed.data).toEqual({ removeItemImage: true });
      expect(await waitFor(() => payloads.length >= 2)).toBe(true);
      const none = await gql(app, 'mutation { removeItemImage(itemId: "m4") }');
      expect(none.data).toEqual({ removeItemImage: false });
      const unknown = await gql(app, 'mutation { removeItemImage(itemId: "nope") }');
      expect(unknown.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'itemId' });
      await new Promise((r) => setTimeout(r, 200));
      expect(payloads).toEqual(['*', '*']); // statements that changed no row stay silent
      expect((await imageRows()).map((r) => r.item)).toEqual(['m1', 'm2']);
    } finally {
      await listener.end();
    }
  });

  it('readItemImages returns the stored pixels as one buffer, in item order or the order asked', async () => {
    const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
    try {
      const rows = await sql<{ id: number; external_id: string; pixels: Buffer }>(
        'SELECT im.item_id AS id, i.external_id, im.pixels FROM item_images im JOIN items i ON i.id = im.item_id ORDER BY im.item_id',
      );
      const all = await readItemImages(pool, { size: 32, channels: 3, pageSize: 1 });
      expect(all.itemIds).toEqual(rows.map((r) => r.id));
      expect(all.externalIds).toEqual(['m1', 'm2']);
      expect([all.size, all.channels]).toEqual([32, 3]);
      expect(Buffer.from(all.pixels).equals(Buffer.concat(rows.map((r) => r.pixels)))).toBe(true);
      const reversed = await readItemImages(pool, { itemIds: [rows[1].id, 999999, rows[0].id] });
      expect(reversed.externalIds).toEqual(['m2', 'm1']);
      expect(Buffer.from(reversed.pixels).equals(Buffer.concat([rows[1].pixels, rows[0].pixels]))).toBe(true);
      // Another shape (e.g. stored under an older RECODER_IMAGE_SIZE) is skipped.
      const other = await readItemImages(pool, { size: 16, channels: 3 });
      expect(other).toEqual({ itemIds: [], externalIds: [], size: 16, channels: 3, pixels: new Uint8Array(0) });
    } finally {
      await pool.end();
    }
  });

  it('follows RECODER_IMAGE_SIZE / RECODER_IMAGE_CHANNELS (16×16 grayscale); readers pick one shape', async () => {
    const grayApp = await bootApp({ images: { size: 16, channels: 1, maxBytes: 2 * 1024 * 1024 } });
    try {
      const res = await gql(grayApp, SET, { itemId: 'm3', image: SPLIT_PNG.toString('base64') });
      expect(res.data!.setItemImage).toMatchObject({ size: 16, channels: 1 });
      const read = await gql(grayApp, '{ item(id: "m3") { image { png } } }');
      const decoded = decodePng(read.data!.item.image.png);
      expect([decoded.width, decoded.height]).toEqual([16, 16]);
      expect(decoded.rgb(2, 2)).toEqual(Array(3).fill(Math.round(0.299 * 255)));
      expect(decoded.rgb(13, 2)).toEqual(Array(3).fill(Math.round(0.114 * 255)));
      const client = new pg.Client({ connectionString: testDatabaseUrl() });
      await client.connect();
      try {
        const gray = await readItemImages(client, { size: 16, channels: 1 });
        expect(gray.externalIds).toEqual(['m3']);
        expect(gray.pixels.length).toBe(16 * 16);
        const common = await readItemImages(client); // most common shape: 32×32×3 (two items)
        expect([common.size, common.channels, common.externalIds]).toEqual([32, 3, ['m1', 'm2']]);
      } finally {
        await client.end();
      }
    } finally {
      await grayApp.close();
      await sql(`DELETE FROM item_images WHERE item_id = (SELECT id FROM items WHERE external_id = 'm3')`);
    }
  });

  it('deleting an item deletes its image (cascade)', async () => {
    const res = await gql(app, 'mutation { deleteItem(itemId: "m2") { id } }');
    expect(res.errors).toBeUndefined();
    expect((await imageRows()).map((r) => r.item)).toEqual(['m1']);
  });

  it("imports a folder of <item id>.png|.jpg|.jpeg files (the CLI's --images loader)", async () => {
    await gql(
      app,
      'mutation { upsertItems(items: [{ id: "f1" }, { id: "f 2" }, { id: "f3" }, { id: "f4" }, { id: "f5" }, { id: "f6" }]) { id } }',
    );
    const dir = await mkdtemp(path.join(tmpdir(), 'recoder-images-'));
    try {
      await writeFile(path.join(dir, 'f1.png'), SPLIT_PNG);
      await writeFile(
        path.join(dir, 'f 2.JPG'),
        jpg(8, 8, () => [10, 200, 10]),
      );
      await writeFile(
        path.join(dir, 'f3.jpeg'),
        jpg(8, 8, () => [200, 10, 10]),
      );
      await writeFile(path.join(dir, 'f4.png'), Buffer.from('not really a png'));
      await writeFile(path.join(dir, 'f5.png'), SPLIT_PNG);
      await writeFile(
        path.join(dir, 'f5.jpg'),
        jpg(8, 8, () => [1, 1, 1]),
      );
      await writeFile(
        path.join(dir, 'f6.png'),
        png(128, 128, () => [...randomBytes(3), 255] as [number, number, number, number]),
      ); // ~50 KB: incompressible
      await writeFile(path.join(dir, 'unknown-item.png'), SPLIT_PNG);
      await writeFile(path.join(dir, 'm1.png'), SPLIT_PNG); // replaces m1's JPEG
      await writeFile(path.join(dir, 'notes.txt'), 'ignored');
      await symlink(path.join(dir, 'f1.png'), path.join(dir, 'link.gif'));
      expect([itemIdOfFile('a.b.PNG'), itemIdOfFile('x.gif'), itemIdOfFile('.png')]).toEqual(['a.b', null, null]);

      const client = new pg.Client({ connectionString: testDatabaseUrl() });
      await client.connect();
      const progress: number[] = [];
      try {
        const result = await importItemImageFolder(client, dir, {
          size: 32,
          channels: 3,
          maxBytes: 16 * 1024,
          batchSize: 3,
          onProgress: (done) => progress.push(done),
        });
        expect(result).toMatchObject({ files: 9, stored: 4, skippedUnknownItem: ['unknown-item'], ignored: 2 });
        expect(result.rejected).toEqual([
          { file: 'f4.png', reason: 'not a PNG or JPEG file (unrecognised magic bytes)' },
          { file: 'f5.jpg', reason: 'ambiguous: several files for item "f5" (f5.jpg, f5.png)' },
          { file: 'f5.png', reason: 'ambiguous: several files for item "f5" (f5.jpg, f5.png)' },
          { file: 'f6.png', reason: expect.stringMatching(/^must be at most 16 KiB \(16384 bytes\) encoded; got/) },
        ]);
        expect(progress[progress.length - 1]).toBe(9);
      } finally {
        await client.end();
      }
      const rows = await imageRows();
      expect(rows.map((r) => [r.item, r.source_type])).toEqual([
        ['f 2', 'jpeg'],
        ['f1', 'png'],
        ['f3', 'jpeg'],
        ['m1', 'png'],
      ]);
      const read = await gql(app, '{ item(id: "f 2") { image { size channels png } } }');
      expect(read.data!.item.image).toMatchObject({ size: 32, channels: 3 });
      expect(near(decodePng(read.data!.item.image.png).rgb(16, 16), [10, 200, 10], 6)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('decodes uploads in a worker thread: other requests are answered while a 4096×4096 image is normalised', async () => {
    const big = stripedPng(4096, 4096); // ≈70 KB, ≈0.5 s to decode and resize (pngjs), which used to block the event loop
    let uploading = true;
    const uploadStarted = performance.now();
    let uploadMs = 0;
    const upload = gql(app, SET, { itemId: 'f4', image: big.toString('base64') }).finally(() => {
      uploading = false;
      uploadMs = performance.now() - uploadStarted;
    });
    // A probe due every 20 ms while the upload runs; its latency counts from when it was due, so a
    // blocked event loop (its timer firing late) shows as the time it was blocked.
    const started = performance.now();
    const latencies: number[] = [];
    for (let i = 1; uploading; i++) {
      const due = started + 20 * i;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      const probe = await gql(app, '{ servingStatus { populationSize } }');
      latencies.push(performance.now() - due);
      expect(probe.errors).toBeUndefined();
    }
    const res = await upload;
    expect(res.errors).toBeUndefined();
    expect(res.data!.setItemImage).toMatchObject({ size: 32, channels: 3, sourceType: 'png', sourceBytes: big.length });
    const read = await gql(app, '{ item(id: "f4") { image { png } } }');
    expect(decodePng(read.data!.item.image.png).rgb(0, 0)).toEqual(decodePng(read.data!.item.image.png).rgb(0, 31)); // vertical stripes
    // Every probe due during the upload (≥ 3 of them) was answered while it ran: the event loop stayed
    // free. A decode on the event loop would hold one probe for the whole decode; the bound is
    // relative to the upload's own time, so a loaded machine (slower everything) does not break it.
    expect(latencies.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...latencies)).toBeLessThan(Math.max(200, uploadMs / 2));
  });
});

async function waitFor(condition: () => boolean, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return condition();
}
