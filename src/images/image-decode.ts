/**
 * PNG and JPEG decoding for item images (pngjs, jpeg-js: pure JavaScript). Every input is
 * untrusted: the type comes from the magic bytes, and the dimensions are read from the PNG IHDR
 * chunk or the JPEG frame header BEFORE any pixel is decoded, so an image over the limit (a
 * decompression bomb) is refused without allocating its pixels.
 */
import { inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';

export type ImageType = 'png' | 'jpeg';

/**
 * Why an image was refused; `message` is fit for a client (it never contains the image). 'timeout':
 * decoding took longer than the decoder pool's limit (src/images/decode-pool.ts).
 */
export type ImageRejection =
  'not-base64' | 'empty' | 'too-large' | 'unsupported-format' | 'dimensions' | 'corrupt' | 'timeout';

export class ImageRejected extends Error {
  constructor(
    readonly reason: ImageRejection,
    message: string,
  ) {
    super(message);
    this.name = 'ImageRejected';
  }
}

/** Largest accepted width and height of a decoded image. */
export const MAX_IMAGE_DIMENSION = 4096;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** 'png' or 'jpeg' by the file's magic bytes, else null. */
export function detectImageType(bytes: Uint8Array): ImageType | null {
  if (bytes.length >= 8 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).equals(PNG_SIGNATURE)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

export interface ImageHeader {
  type: ImageType;
  width: number;
  height: number;
}

/**
 * The type and dimensions from the headers alone (no decoding): PNG's IHDR chunk, the first JPEG
 * start-of-frame marker. Throws ImageRejected: unsupported-format (neither PNG nor JPEG, or a JPEG
 * process jpeg-js cannot decode), corrupt (no readable header), dimensions (zero, or over
 * `maxDimension` in either direction).
 */
export function readImageHeader(bytes: Uint8Array, maxDimension = MAX_IMAGE_DIMENSION): ImageHeader {
  const type = detectImageType(bytes);
  if (type === null) throw new ImageRejected('unsupported-format', 'not a PNG or JPEG file (unrecognised magic bytes)');
  const { width, height } = type === 'png' ? pngDimensions(bytes) : jpegDimensions(bytes);
  if (width === 0 || height === 0)
    throw new ImageRejected('corrupt', `corrupt ${type.toUpperCase()}: the header gives ${width}×${height} pixels`);
  if (width > maxDimension || height > maxDimension) {
    throw new ImageRejected(
      'dimensions',
      `${width}×${height} pixels is too large: at most ${maxDimension}×${maxDimension}`,
    );
  }
  return { type, width, height };
}

function pngDimensions(b: Uint8Array): { width: number; height: number } {
  // Signature (8), then the IHDR chunk: length (4) = 13, type (4), width (4), height (4), ...
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 33 || view.getUint32(8) !== 13 || String.fromCharCode(b[12], b[13], b[14], b[15]) !== 'IHDR') {
    throw new ImageRejected('corrupt', 'corrupt PNG: no IHDR header chunk');
  }
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Start-of-frame markers C0–CF except DHT (C4), JPG (C8) and DAC (CC). jpeg-js decodes C0, C1, C2. */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegDimensions(b: Uint8Array): { width: number; height: number } {
  let i = 2; // after SOI
  while (i < b.length) {
    if (b[i] !== 0xff) throw new ImageRejected('corrupt', 'corrupt JPEG: expected a marker');
    while (i < b.length && b[i] === 0xff) i++; // fill bytes
    if (i >= b.length) break;
    const marker = b[i++];
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9 || marker === 0xda) break; // EOI or start of scan before any frame
    if (i + 2 > b.length) break;
    const length = (b[i] << 8) | b[i + 1];
    if (length < 2) throw new ImageRejected('corrupt', 'corrupt JPEG: bad segment length');
    if (isSof(marker)) {
      if (length < 8 || i + 7 > b.length) break;
      if (marker > 0xc2) {
        throw new ImageRejected(
          'unsupported-format',
          'unsupported JPEG: only baseline and progressive JPEG (not lossless, hierarchical or arithmetic-coded)',
        );
      }
      return { height: (b[i + 3] << 8) | b[i + 4], width: (b[i + 5] << 8) | b[i + 6] };
    }
    i += length;
  }
  throw new ImageRejected('corrupt', 'corrupt JPEG: no frame header');
}

export interface DecodedImage {
  type: ImageType;
  width: number;
  height: number;
  /** 3 (RGB, JPEG) or 4 (RGBA, PNG). */
  channels: 3 | 4;
  data: Uint8Array;
}

/**
 * Decodes a PNG (any colour type and bit depth; 16-bit is scaled to 8) to RGBA or a JPEG (baseline
 * or progressive; grayscale, YCbCr, Adobe CMYK) to RGB, after {@link readImageHeader}'s checks.
 * Throws ImageRejected ('corrupt' for anything the decoders refuse).
 */
export function decodeImage(bytes: Uint8Array, maxDimension = MAX_IMAGE_DIMENSION): DecodedImage {
  const header = readImageHeader(bytes, maxDimension);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    if (header.type === 'png') {
      checkInterlacedPngSize(buffer, header.width, header.height);
      decoded = pngjs.PNG.sync.read(buffer);
    } else {
      decoded = jpeg.decode(buffer, {
        useTArray: true,
        formatAsRGBA: false,
        tolerantDecoding: true,
        // Second line of defence after the header check (4096² is 16.8 MP).
        maxResolutionInMP: (maxDimension * maxDimension) / 1e6,
        maxMemoryUsageInMB: 512,
      });
    }
  } catch (error) {
    if (error instanceof ImageRejected) throw error;
    const detail = String((error as Error)?.message ?? error).slice(0, 200);
    throw new ImageRejected('corrupt', `corrupt or unsupported ${header.type.toUpperCase()} data (${detail})`);
  }
  const channels = header.type === 'png' ? 4 : 3;
  if (
    decoded.width !== header.width ||
    decoded.height !== header.height ||
    decoded.data.length !== decoded.width * decoded.height * channels
  ) {
    throw new ImageRejected(
      'corrupt',
      `corrupt ${header.type.toUpperCase()} data (decoded size differs from the header)`,
    );
  }
  return { type: header.type, width: decoded.width, height: decoded.height, channels, data: decoded.data };
}

/** Samples per pixel of each PNG colour type. */
const PNG_SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/**
 * pngjs bounds the inflated size of non-interlaced images but inflates interlaced ones without a
 * limit, so 2 MiB of deflate stream could expand to gigabytes: for those, inflate once here with
 * the exact size the header implies as the output limit.
 */
function checkInterlacedPngSize(b: Buffer, width: number, height: number): void {
  const bitDepth = b[24];
  const colorType = b[25];
  const interlace = b[28];
  if (interlace !== 1) return;
  const samples = PNG_SAMPLES[colorType];
  if (samples === undefined || ![1, 2, 4, 8, 16].includes(bitDepth)) return; // pngjs rejects it
  const bits = samples * bitDepth;
  let expected = 0;
  for (const [xs, ys, dx, dy] of ADAM7) {
    const w = Math.ceil((width - xs) / dx);
    const h = Math.ceil((height - ys) / dy);
    if (w > 0 && h > 0) expected += h * (1 + Math.ceil((w * bits) / 8));
  }
  const idat: Buffer[] = [];
  for (let i = 8; i + 8 <= b.length;) {
    const length = b.readUInt32BE(i);
    const type = b.toString('latin1', i + 4, i + 8);
    if (type === 'IDAT') idat.push(b.subarray(i + 8, Math.min(b.length, i + 8 + length)));
    if (type === 'IEND') break;
    i += 12 + length;
  }
  try {
    inflateSync(Buffer.concat(idat), { maxOutputLength: Math.max(expected, 1) });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new ImageRejected('corrupt', 'corrupt PNG: the compressed pixel data expands beyond the image size');
    }
    throw error; // other zlib errors: reported by the caller as corrupt data
  }
}
