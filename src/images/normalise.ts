/**
 * Item image normalisation, shared by `setItemImage` and `npm run import -- --images`: an uploaded
 * PNG or JPEG becomes the stored form the convolutional item autoencoder reads (item_images):
 * alpha composited over white, 1 (BT.601 luma) or 3 (RGB) channels, centre-cropped to a square and
 * area-averaged to size×size, uint8 HWC.
 */
import { decodeImage, ImageRejected, MAX_IMAGE_DIMENSION, type ImageType } from './image-decode.js';
import { resizeSquare, toChannels } from './pixels.js';

export interface NormaliseOptions {
  /** Side of the stored square (RECODER_IMAGE_SIZE). */
  size: number;
  /** 1 = grayscale, 3 = RGB (RECODER_IMAGE_CHANNELS). */
  channels: 1 | 3;
  /** Largest encoded file accepted (RECODER_MAX_IMAGE_BYTES). */
  maxBytes: number;
  /** Largest width and height (default 4096). */
  maxDimension?: number;
}

/** An image in the stored form. */
export interface NormalisedImage {
  size: number;
  channels: 1 | 3;
  /** size·size·channels bytes, row-major, HWC. */
  pixels: Uint8Array;
  sourceType: ImageType;
  /** Size of the encoded upload. */
  sourceBytes: number;
  sourceWidth: number;
  sourceHeight: number;
}

/**
 * Decodes and normalises an encoded PNG or JPEG. Throws ImageRejected (too-large, empty,
 * unsupported-format, dimensions, corrupt) with a client-fit message.
 */
export function normaliseImage(bytes: Uint8Array, options: NormaliseOptions): NormalisedImage {
  checkEncodedSize(bytes.length, options.maxBytes);
  const decoded = decodeImage(bytes, options.maxDimension ?? MAX_IMAGE_DIMENSION);
  const converted = toChannels(decoded.data, decoded.width, decoded.height, decoded.channels, options.channels);
  return {
    size: options.size,
    channels: options.channels,
    pixels: resizeSquare(converted, decoded.width, decoded.height, options.channels, options.size),
    sourceType: decoded.type,
    sourceBytes: bytes.length,
    sourceWidth: decoded.width,
    sourceHeight: decoded.height,
  };
}

export function checkEncodedSize(bytes: number, maxBytes: number): void {
  if (bytes === 0) throw new ImageRejected('empty', 'must not be empty');
  if (bytes > maxBytes)
    throw new ImageRejected(
      'too-large',
      `must be at most ${formatBytes(maxBytes)}${maxBytes >= 1024 ? ` (${maxBytes} bytes)` : ''} encoded; got ${formatBytes(bytes)}`,
    );
}

const DATA_URL = /^data:([^,;]*)((?:;[^,;]*)*),/i;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The bytes of an image sent as base64 text, optionally as a `data:<type>;base64,` URL. Whitespace
 * (line breaks) is ignored, padding is optional. The encoded size is checked against `maxBytes`
 * before anything is decoded. Throws ImageRejected (not-base64, empty, too-large).
 */
export function parseImageString(text: string, maxBytes: number): Buffer {
  let body = text;
  const dataUrl = DATA_URL.exec(text);
  if (dataUrl) {
    if (!/;base64$/i.test(dataUrl[2]))
      throw new ImageRejected('not-base64', 'a data: URL must be base64-encoded (data:image/png;base64,…)');
    body = text.slice(dataUrl[0].length);
  }
  body = body.replace(/\s+/g, '');
  if (body.length === 0) throw new ImageRejected('empty', 'must not be empty');
  if (
    !BASE64_BODY.test(body) ||
    body.replace(/=+$/, '').length % 4 === 1 ||
    (body.includes('=') && body.length % 4 !== 0)
  ) {
    throw new ImageRejected(
      'not-base64',
      'is not base64 (standard alphabet A–Z a–z 0–9 + /, optionally as a data: URL)',
    );
  }
  const unpadded = body.replace(/=+$/, '').length;
  checkEncodedSize(Math.floor((unpadded * 3) / 4), maxBytes);
  return Buffer.from(body, 'base64');
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / (1024 * 1024)).toFixed(2)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
