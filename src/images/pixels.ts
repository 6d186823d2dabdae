/**
 * Pixel arithmetic for item images: plain TypeScript, no dependencies, pure functions. Pixels are
 * uint8, row-major, channels interleaved (HWC).
 */

/** ITU-R BT.601 luma weights. */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * Converts decoded RGB (3 channels) or RGBA (4) pixels to `channels` 1 (grayscale: BT.601 luma
 * 0.299R + 0.587G + 0.114B) or 3 (RGB), compositing any alpha over white. Values are computed in
 * floating point and rounded once.
 */
export function toChannels(
  src: Uint8Array,
  width: number,
  height: number,
  srcChannels: 3 | 4,
  channels: 1 | 3,
): Uint8Array {
  const n = width * height;
  if (src.length !== n * srcChannels)
    throw new Error(`toChannels: expected ${n * srcChannels} bytes, got ${src.length}`);
  const out = new Uint8Array(n * channels);
  for (let p = 0, i = 0, o = 0; p < n; p++, i += srcChannels, o += channels) {
    let r = src[i];
    let g = src[i + 1];
    let b = src[i + 2];
    if (srcChannels === 4) {
      const a = src[i + 3];
      if (a !== 255) {
        // Over white: c·α + 255·(1 − α), α = a/255.
        const white = 255 - a;
        r = (r * a + 255 * white) / 255;
        g = (g * a + 255 * white) / 255;
        b = (b * a + 255 * white) / 255;
      }
    }
    if (channels === 1) {
      out[o] = clampByte(LUMA[0] * r + LUMA[1] * g + LUMA[2] * b);
    } else {
      out[o] = clampByte(r);
      out[o + 1] = clampByte(g);
      out[o + 2] = clampByte(b);
    }
  }
  return out;
}

function clampByte(v: number): number {
  const r = Math.round(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** The largest centred square of a width×height image: its top-left corner and side. */
export function centreSquare(width: number, height: number): { x: number; y: number; side: number } {
  const side = Math.min(width, height);
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), side };
}

/**
 * Area-averaging (box) weights from `n` source pixels to `m` output pixels along one axis, in
 * integers: output o covers [o·n, (o+1)·n) and source s covers [s·m, (s+1)·m) in units of 1/m
 * source pixel; the weight is their overlap. Each output's weights sum to n.
 */
export function boxWeights(
  n: number,
  m: number,
): { first: Int32Array; count: Int32Array; weights: Float64Array; offset: Int32Array } {
  const first = new Int32Array(m);
  const count = new Int32Array(m);
  const offset = new Int32Array(m);
  const all: number[] = [];
  for (let o = 0; o < m; o++) {
    const start = o * n;
    const end = start + n;
    const s0 = Math.floor(start / m);
    const s1 = Math.ceil(end / m); // exclusive
    first[o] = s0;
    count[o] = s1 - s0;
    offset[o] = all.length;
    for (let s = s0; s < s1; s++) all.push(Math.min((s + 1) * m, end) - Math.max(s * m, start));
  }
  return { first, count, weights: Float64Array.from(all), offset };
}

/**
 * Centre-crops a width×height image of `channels` channels to a square and resizes it to
 * size×size with an area-averaging (box) filter: every output pixel is the mean of the source area
 * it covers (partial pixels weighted by their covered fraction), rounded once at the end. Separable
 * (rows, then columns); the sums are exact integers, so the result is the exactly rounded mean.
 * Upscaling (a crop smaller than `size`) repeats source pixels and blends them at the seams.
 */
export function resizeSquare(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  size: number,
): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new Error(`resizeSquare: bad dimensions ${width}×${height}`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`resizeSquare: bad size ${size}`);
  if (src.length !== width * height * channels)
    throw new Error(`resizeSquare: expected ${width * height * channels} bytes, got ${src.length}`);
  const { x: x0, y: y0, side } = centreSquare(width, height);
  const w = boxWeights(side, size);
  const rowStride = width * channels;

  // Rows: side source rows × size output columns (sums weighted by overlap, total weight `side`).
  const tmp = new Float64Array(side * size * channels);
  for (let y = 0; y < side; y++) {
    const rowBase = (y0 + y) * rowStride + x0 * channels;
    const tmpBase = y * size * channels;
    for (let o = 0; o < size; o++) {
      const base = w.offset[o];
      const s0 = w.first[o];
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let k = 0; k < w.count[o]; k++) sum += src[rowBase + (s0 + k) * channels + c] * w.weights[base + k];
        tmp[tmpBase + o * channels + c] = sum;
      }
    }
  }

  // Columns: size output rows from the side temporary rows; divide by side² and round.
  const out = new Uint8Array(size * size * channels);
  const norm = side * side;
  const tmpStride = size * channels;
  for (let o = 0; o < size; o++) {
    const base = w.offset[o];
    const s0 = w.first[o];
    for (let i = 0; i < tmpStride; i++) {
      let sum = 0;
      for (let k = 0; k < w.count[o]; k++) sum += tmp[(s0 + k) * tmpStride + i] * w.weights[base + k];
      out[o * tmpStride + i] = clampByte(sum / norm);
    }
  }
  return out;
}
