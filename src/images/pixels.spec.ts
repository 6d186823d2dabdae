import { boxWeights, centreSquare, resizeSquare, toChannels } from './pixels.js';

/** A width×height image of `channels` channels whose pixel (x, y) is f(x, y) (one value per channel). */
function image(
  width: number,
  height: number,
  channels: number,
  f: (x: number, y: number, c: number) => number,
): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = f(x, y, c);
  return out;
}
const at = (px: Uint8Array, size: number, channels: number, x: number, y: number, c = 0) =>
  px[(y * size + x) * channels + c];

describe('resizeSquare (centre crop + area averaging)', () => {
  it('keeps a uniform image uniform, down, up and at non-integer ratios', () => {
    for (const [w, h, size] of [
      [64, 64, 32],
      [100, 37, 32],
      [5, 5, 3],
      [7, 3, 8],
      [4096, 1, 8],
      [1, 1, 16],
    ]) {
      const out = resizeSquare(
        image(w, h, 3, (_x, _y, c) => [200, 17, 99][c]),
        w,
        h,
        3,
        size,
      );
      expect(out.length).toBe(size * size * 3);
      for (let i = 0; i < out.length; i++) expect(out[i]).toBe([200, 17, 99][i % 3]);
    }
  });

  it('averages a 2×2 checkerboard to its mean at 1×1 (rounded half up)', () => {
    const board = image(2, 2, 1, (x, y) => ((x + y) % 2 === 0 ? 0 : 255));
    expect(Array.from(resizeSquare(board, 2, 2, 1, 1))).toEqual([Math.round((0 + 255 + 255 + 0) / 4)]);
    const board2 = image(2, 2, 1, (x, y) => ((x + y) % 2 === 0 ? 10 : 41));
    expect(Array.from(resizeSquare(board2, 2, 2, 1, 1))).toEqual([Math.round(51 / 2)]);
  });

  it('keeps the halves of a left/right split when downscaling 64 → 32', () => {
    const split = image(64, 64, 3, (x, _y, c) => (x < 32 ? [255, 0, 0][c] : [0, 0, 255][c]));
    const out = resizeSquare(split, 64, 64, 3, 32);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        expect([at(out, 32, 3, x, y, 0), at(out, 32, 3, x, y, 1), at(out, 32, 3, x, y, 2)]).toEqual(
          x < 16 ? [255, 0, 0] : [0, 0, 255],
        );
      }
    }
  });

  it('averages exactly the covered area at a non-integer ratio (3 → 2: one and a half pixels each)', () => {
    const row = image(3, 3, 1, (x) => [0, 100, 200][x]);
    const out = resizeSquare(row, 3, 3, 1, 2);
    // Left output pixel: 1 × 0 + 0.5 × 100 over 1.5 → 33.3; right: 0.5 × 100 + 1 × 200 over 1.5 → 166.7.
    expect(Array.from(out)).toEqual([33, 167, 33, 167]);
  });

  it('crops the centred square of a wide or tall image', () => {
    // 6×2: columns 0,1 and 4,5 are outside the centred 2×2 square (columns 2,3).
    const wide = image(6, 2, 1, (x) => (x === 2 || x === 3 ? 50 : 255));
    expect(Array.from(resizeSquare(wide, 6, 2, 1, 2))).toEqual([50, 50, 50, 50]);
    const tall = image(3, 9, 1, (_x, y) => y * 10);
    // Rows 3..5 are the centred 3×3 square: its mean at 1×1 is row 4's value.
    expect(Array.from(resizeSquare(tall, 3, 9, 1, 1))).toEqual([40]);
    expect(centreSquare(7, 4)).toEqual({ x: 1, y: 0, side: 4 });
  });

  it('preserves the mean brightness (box filter weights sum to the source span)', () => {
    for (const [n, m] of [
      [10, 3],
      [3, 10],
      [4096, 128],
      [17, 17],
    ]) {
      const w = boxWeights(n, m);
      for (let o = 0; o < m; o++) {
        let sum = 0;
        for (let k = 0; k < w.count[o]; k++) sum += w.weights[w.offset[o] + k];
        expect(sum).toBe(n);
      }
    }
  });

  it('refuses a buffer of the wrong length', () => {
    expect(() => resizeSquare(new Uint8Array(10), 2, 2, 3, 1)).toThrow(/expected 12 bytes/);
  });
});

describe('toChannels', () => {
  it('composites alpha over white and converts to BT.601 luma', () => {
    const rgba = Uint8Array.from([255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128, 10, 20, 30, 255]);
    expect(Array.from(toChannels(rgba, 4, 1, 4, 3))).toEqual([255, 0, 0, 255, 255, 255, 127, 127, 127, 10, 20, 30]);
    expect(Array.from(toChannels(rgba, 4, 1, 4, 1))).toEqual([
      Math.round(0.299 * 255),
      255,
      127, // black at alpha 128/255 over white: 255 · 127/255
      Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30),
    ]);
  });

  it('passes RGB through and turns gray RGB into the same gray', () => {
    const rgb = Uint8Array.from([1, 2, 3, 77, 77, 77]);
    expect(Array.from(toChannels(rgb, 2, 1, 3, 3))).toEqual([1, 2, 3, 77, 77, 77]);
    expect(toChannels(rgb, 2, 1, 3, 1)[1]).toBe(77);
    expect(toChannels(Uint8Array.from([255, 255, 255]), 1, 1, 3, 1)[0]).toBe(255);
  });
});
