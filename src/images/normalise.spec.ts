import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { decodeImage, detectImageType, ImageRejected, readImageHeader } from './image-decode.js';
import { encodePng } from './images.queries.js';
import { normaliseImage, parseImageString, type NormaliseOptions } from './normalise.js';

/** An RGBA PNG whose pixel (x, y) is f(x, y). */
function png(
  width: number,
  height: number,
  f: (x: number, y: number) => [number, number, number, number],
  options: pngjs.PackerOptions = {},
): Buffer {
  const image = new pngjs.PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) image.data.set(f(x, y), (y * width + x) * 4);
  return pngjs.PNG.sync.write(image, options);
}
function jpg(
  width: number,
  height: number,
  f: (x: number, y: number) => [number, number, number],
  quality = 100,
): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...f(x, y), 255], (y * width + x) * 4);
  return jpeg.encode({ width, height, data }, quality).data;
}
const RGB: NormaliseOptions = { size: 8, channels: 3, maxBytes: 1024 * 1024 };
const GRAY: NormaliseOptions = { ...RGB, channels: 1 };

function rejection(fn: () => unknown): ImageRejected {
  try {
    fn();
  } catch (error) {
    if (error instanceof ImageRejected) return error;
    throw error;
  }
  throw new Error('expected an ImageRejected');
}

describe('normaliseImage', () => {
  it('decodes a PNG, centre-crops and averages it to size×size RGB', () => {
    // 32×16: the centred 16×16 square (x 8..23) is left half red, right half blue.
    const bytes = png(32, 16, (x) =>
      x < 8 ? [0, 255, 0, 255] : x < 16 ? [255, 0, 0, 255] : x < 24 ? [0, 0, 255, 255] : [0, 255, 0, 255],
    );
    const out = normaliseImage(bytes, RGB);
    expect(out).toMatchObject({
      size: 8,
      channels: 3,
      sourceType: 'png',
      sourceBytes: bytes.length,
      sourceWidth: 32,
      sourceHeight: 16,
    });
    expect(out.pixels.length).toBe(8 * 8 * 3);
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++)
        expect(Array.from(out.pixels.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3))).toEqual(
          x < 4 ? [255, 0, 0] : [0, 0, 255],
        );
  });

  it('composites transparency over white and converts to grayscale luma', () => {
    const transparent = normaliseImage(
      png(4, 4, () => [0, 0, 0, 0]),
      GRAY,
    );
    expect(new Set(transparent.pixels)).toEqual(new Set([255]));
    const half = normaliseImage(
      png(4, 4, () => [0, 0, 0, 128]),
      RGB,
    );
    expect(new Set(half.pixels)).toEqual(new Set([127]));
    const green = normaliseImage(
      png(4, 4, () => [0, 255, 0, 255]),
      GRAY,
    );
    expect(new Set(green.pixels)).toEqual(new Set([Math.round(0.587 * 255)]));
    expect(green.pixels.length).toBe(64);
  });

  it('decodes grayscale, 16-bit and interlaced PNGs', () => {
    const gray = png(10, 10, () => [90, 90, 90, 255], { colorType: 0 });
    expect(new Set(normaliseImage(gray, GRAY).pixels)).toEqual(new Set([90]));
    const samples = new Uint16Array(10 * 10 * 4).map((_, i) => [200, 100, 50, 255][i % 4] * 257);
    const deep = pngjs.PNG.sync.write({ width: 10, height: 10, data: Buffer.from(samples.buffer) } as pngjs.PNG, {
      bitDepth: 16,
    });
    expect(Array.from(normaliseImage(deep, RGB).pixels.subarray(0, 3))).toEqual([200, 100, 50]);
    const interlaced = interlacedGrayPng(9, 7, 33);
    expect(new Set(normaliseImage(interlaced, GRAY).pixels)).toEqual(new Set([33]));
  });

  it('decodes a JPEG (quality 100: within a few levels)', () => {
    const bytes = jpg(24, 24, (x) => (x < 12 ? [250, 20, 20] : [20, 20, 250]));
    const out = normaliseImage(bytes, { ...RGB, size: 4 });
    expect(out).toMatchObject({ sourceType: 'jpeg', sourceWidth: 24, sourceHeight: 24, size: 4, channels: 3 });
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const expected = x < 2 ? [250, 20, 20] : [20, 20, 250];
        for (let c = 0; c < 3; c++)
          expect(Math.abs(out.pixels[(y * 4 + x) * 3 + c] - expected[c])).toBeLessThanOrEqual(6);
      }
    }
    const gray = normaliseImage(
      jpg(16, 16, () => [128, 128, 128]),
      GRAY,
    );
    for (const v of gray.pixels) expect(Math.abs(v - 128)).toBeLessThanOrEqual(2);
  });

  it('refuses what is not a PNG or JPEG by its magic bytes', () => {
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    expect(detectImageType(gif)).toBeNull();
    expect(rejection(() => normaliseImage(gif, RGB))).toMatchObject({
      reason: 'unsupported-format',
      message: expect.stringMatching(/not a PNG or JPEG/),
    });
    // A PNG named by its extension only does not pass: the bytes decide.
    expect(rejection(() => normaliseImage(Buffer.from('hello world, not an image'), RGB)).reason).toBe(
      'unsupported-format',
    );
  });

  it('refuses dimensions over 4096 from the header, before decoding any pixel', () => {
    // A small PNG whose IHDR claims 5000×5000 (its CRC is now wrong too: a decoder would call it corrupt).
    const big = png(2, 2, () => [0, 0, 0, 255]);
    big.writeUInt32BE(5000, 16);
    big.writeUInt32BE(5000, 20);
    expect(rejection(() => normaliseImage(big, RGB))).toMatchObject({
      reason: 'dimensions',
      message: '5000×5000 pixels is too large: at most 4096×4096',
    });
    // A tiny PNG bomb: a valid 1×4097 image is refused as well.
    expect(
      rejection(() =>
        normaliseImage(
          png(1, 4097, () => [0, 0, 0, 255]),
          RGB,
        ),
      ).reason,
    ).toBe('dimensions');
    // A JPEG whose frame header claims 8000 rows.
    const tall = jpg(8, 8, () => [1, 2, 3]);
    const sof = tall.indexOf(Buffer.from([0xff, 0xc0]));
    tall.writeUInt16BE(8000, sof + 5);
    expect(rejection(() => normaliseImage(tall, RGB))).toMatchObject({
      reason: 'dimensions',
      message: '8×8000 pixels is too large: at most 4096×4096',
    });
    // The limit is a parameter (the header is read, nothing decoded).
    expect(readImageHeader(png(20, 10, () => [0, 0, 0, 255]))).toEqual({ type: 'png', width: 20, height: 10 });
    expect(
      rejection(() =>
        decodeImage(
          png(20, 10, () => [0, 0, 0, 255]),
          16,
        ),
      ).reason,
    ).toBe('dimensions');
  });

  it('refuses an interlaced PNG whose compressed data expands beyond its size (a zip bomb)', () => {
    const bomb = interlacedGrayPng(8, 8, 0, Buffer.alloc(10 * 1024 * 1024));
    expect(rejection(() => normaliseImage(bomb, RGB))).toMatchObject({
      reason: 'corrupt',
      message: expect.stringMatching(/expands beyond the image size/),
    });
  });

  it('refuses corrupt and truncated data', () => {
    const good = png(16, 16, () => [1, 2, 3, 255]);
    expect(rejection(() => normaliseImage(good.subarray(0, 40), RGB)).reason).toBe('corrupt');
    const flipped = Buffer.from(good);
    flipped[flipped.length - 20] ^= 0xff; // inside IDAT: CRC mismatch
    expect(rejection(() => normaliseImage(flipped, RGB)).reason).toBe('corrupt');
    expect(rejection(() => normaliseImage(good.subarray(0, 20), RGB)).reason).toBe('corrupt');
    expect(rejection(() => normaliseImage(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), RGB))).toMatchObject({
      reason: 'corrupt',
      message: 'corrupt JPEG: no frame header',
    });
    const jpegBytes = jpg(16, 16, () => [1, 2, 3]);
    expect(rejection(() => normaliseImage(jpegBytes.subarray(0, jpegBytes.length >> 1), RGB)).reason).toBe('corrupt');
    // Lossless JPEG (SOF3) is a JPEG, but not one jpeg-js decodes.
    const lossless = Buffer.from(jpegBytes);
    lossless[lossless.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc3;
    expect(rejection(() => normaliseImage(lossless, RGB)).reason).toBe('unsupported-format');
  });

  it('refuses an encoded file over the cap, naming it', () => {
    const bytes = png(64, 64, (x, y) => [x * 4, y * 4, (x * y) & 255, 255]);
    expect(rejection(() => normaliseImage(bytes, { ...RGB, maxBytes: 100 }))).toMatchObject({
      reason: 'too-large',
      message: expect.stringMatching(/^must be at most 100 bytes encoded; got \d+(\.\d+)? KiB$/),
    });
  });
});

describe('parseImageString', () => {
  const bytes = png(2, 2, () => [9, 9, 9, 255]);
  it('takes base64, with or without padding and line breaks, or a data: URL', () => {
    const b64 = bytes.toString('base64');
    expect(parseImageString(b64, 1e6).equals(bytes)).toBe(true);
    expect(parseImageString(b64.replace(/=+$/, ''), 1e6).equals(bytes)).toBe(true);
    expect(parseImageString(b64.replace(/(.{20})/g, '$1\n'), 1e6).equals(bytes)).toBe(true);
    expect(parseImageString(`data:image/png;base64,${b64}`, 1e6).equals(bytes)).toBe(true);
    expect(parseImageString(`DATA:image/jpeg;name=x.jpg;base64,${b64}`, 1e6).equals(bytes)).toBe(true);
  });

  it('refuses what is not base64, empty, or over the cap before decoding', () => {
    expect(rejection(() => parseImageString('not base64!', 1e6)).reason).toBe('not-base64');
    expect(rejection(() => parseImageString('abcde', 1e6)).reason).toBe('not-base64');
    expect(rejection(() => parseImageString('ab=c', 1e6)).reason).toBe('not-base64');
    expect(rejection(() => parseImageString('data:image/png,%89PNG', 1e6)).reason).toBe('not-base64');
    expect(rejection(() => parseImageString('', 1e6)).reason).toBe('empty');
    expect(rejection(() => parseImageString('data:image/png;base64,', 1e6)).reason).toBe('empty');
    expect(rejection(() => parseImageString('A'.repeat(4 * 1024), 3 * 1024 - 1))).toMatchObject({
      reason: 'too-large',
      message: expect.stringMatching(/got 3 KiB$/),
    });
    expect(parseImageString('A'.repeat(4 * 1024), 3 * 1024).length).toBe(3 * 1024);
  });
});

describe('encodePng', () => {
  it('round-trips stored pixels (RGB and grayscale) through pngjs', () => {
    const rgb = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 37) & 255);
    const decoded = pngjs.PNG.sync.read(encodePng(rgb, 4, 3));
    expect([decoded.width, decoded.height]).toEqual([4, 4]);
    for (let p = 0; p < 16; p++)
      expect(Array.from(decoded.data.subarray(p * 4, p * 4 + 4))).toEqual([...rgb.subarray(p * 3, p * 3 + 3), 255]);
    const gray = Uint8Array.from({ length: 9 }, (_, i) => i * 20);
    const g = pngjs.PNG.sync.read(encodePng(gray, 3, 1));
    for (let p = 0; p < 9; p++)
      expect(Array.from(g.data.subarray(p * 4, p * 4 + 3))).toEqual([gray[p], gray[p], gray[p]]);
    expect(() => encodePng(rgb, 4, 1)).toThrow(/expected 16 bytes/);
    expect(() => encodePng(rgb, 4, 4)).toThrow(/channels must be 1 or 3/);
  });
});

/** A minimal Adam7-interlaced 8-bit grayscale PNG of one value (or with `idatPayload` as its raw, pre-deflate pixel stream). */
function interlacedGrayPng(width: number, height: number, value: number, idatPayload?: Buffer): Buffer {
  const passes = [
    [0, 0, 8, 8],
    [4, 0, 8, 8],
    [0, 4, 4, 8],
    [2, 0, 4, 4],
    [0, 2, 2, 4],
    [1, 0, 2, 2],
    [0, 1, 1, 2],
  ];
  const rows: Buffer[] = [];
  for (const [xs, ys, dx, dy] of passes) {
    const w = Math.ceil((width - xs) / dx);
    const h = Math.ceil((height - ys) / dy);
    if (w <= 0 || h <= 0) continue;
    for (let r = 0; r < h; r++) rows.push(Buffer.concat([Buffer.from([0]), Buffer.alloc(w, value)]));
  }
  const raw = idatPayload ?? Buffer.concat(rows);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 1], 8); // depth 8, grayscale, deflate, filter 0, Adam7
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}
