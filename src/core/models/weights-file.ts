/**
 * The one model-file format every Recoder model writes: magic (uint32 LE, one per model kind),
 * format version (uint32 LE), header length (uint32 LE), a JSON header, zero padding to 4 bytes,
 * then arrays back to back (float32 / int32 LE, or raw bytes zero-padded to 4). The header says
 * what the arrays are; readers pass the types and lengths they expect, and the versions they read.
 *
 * Versions of a kind's file: Mult-VAE/DAE ("MAE1") and AutoRec ("ARC1") have always had this
 * layout (version 1); the conv AE ("CAE1") too. EASE ("EASW", version 3) and ensembles ("ENSW",
 * version 2) moved to it from their own layouts ("EAS1"/"EAS2" and "ENS1"), which their readers
 * still accept (src/core/models/weights-file.spec.ts loads files written by the old code).
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** An array of a model file: float32, int32 (4 bytes each) or raw bytes (padded to 4). */
export type WeightArray = Float32Array | Int32Array | Uint8Array;

/** What a reader expects of the next array. */
export interface ArraySpec {
  type: 'f32' | 'i32' | 'u8';
  length: number;
}

const pad4 = (n: number) => Math.ceil(n / 4) * 4;

/** The four ASCII characters of a magic number as written (little-endian). */
export function magicOf(text: string): number {
  if (text.length !== 4) throw new Error(`magic ${text}: four characters expected`);
  return (
    (text.charCodeAt(0) | (text.charCodeAt(1) << 8) | (text.charCodeAt(2) << 16) | (text.charCodeAt(3) << 24)) >>> 0
  );
}

export function packWeights(
  magic: number,
  version: number,
  header: unknown,
  arrays: readonly WeightArray[],
): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(12 + pad4(json.length) + arrays.reduce((s, a) => s + pad4(a.byteLength), 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, magic, true);
  dv.setUint32(4, version, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  let off = 12 + pad4(json.length);
  for (const a of arrays) {
    if (LITTLE_ENDIAN || a instanceof Uint8Array) out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
    else if (a instanceof Float32Array) for (let i = 0; i < a.length; i++) dv.setFloat32(off + 4 * i, a[i], true);
    else for (let i = 0; i < a.length; i++) dv.setInt32(off + 4 * i, a[i], true);
    off += pad4(a.byteLength);
  }
  return out;
}

/** Whether `bytes` start with `magic`. */
export function hasMagic(bytes: Uint8Array, magic: number): boolean {
  return (
    bytes.byteLength >= 12 &&
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true) === magic
  );
}

/**
 * The JSON header of a {@link packWeights} file (checks magic and version: `versions` lists the
 * ones this reader reads). `notA` is the error for another file ("not a <what> file" by default).
 */
export function readWeightsHeader<H>(
  bytes: Uint8Array,
  magic: number,
  versions: number | readonly number[],
  what: string,
  notA = `not a ${what} file`,
): { header: H; dataOffset: number; version: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!hasMagic(bytes, magic)) throw new Error(`${what}: ${notA}`);
  const v = dv.getUint32(4, true);
  const known = typeof versions === 'number' ? [versions] : versions;
  if (!known.includes(v)) throw new Error(`${what}: unsupported format version ${v} (expected ${known.join(' or ')})`);
  const length = dv.getUint32(8, true);
  if (12 + length > bytes.byteLength) throw new Error(`${what}: truncated header (corrupt file)`);
  let header: H;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as H;
  } catch (e) {
    throw new Error(`${what}: corrupt header (${e instanceof Error ? e.message : String(e)})`);
  }
  return { header, dataOffset: 12 + pad4(length), version: v };
}

/** The arrays after the header, of the given types and lengths; the file must end exactly there. */
export function readArrays(
  bytes: Uint8Array,
  dataOffset: number,
  specs: readonly ArraySpec[],
  what: string,
): WeightArray[] {
  const expected = dataOffset + specs.reduce((s, a) => s + pad4(a.type === 'u8' ? a.length : 4 * a.length), 0);
  if (expected > bytes.byteLength)
    throw new Error(`${what}: truncated weights (expected ${expected} bytes, got ${bytes.byteLength})`);
  if (expected !== bytes.byteLength)
    throw new Error(`${what}: ${bytes.byteLength - expected} unexpected trailing bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = dataOffset;
  return specs.map(({ type, length }) => {
    if (type === 'u8') {
      // Raw bytes (e.g. an ensemble member's own file) are a view, not a copy.
      const view = bytes.subarray(off, off + length);
      off += pad4(length);
      return view;
    }
    const a = type === 'f32' ? new Float32Array(length) : new Int32Array(length);
    if (LITTLE_ENDIAN) new Uint8Array(a.buffer).set(bytes.subarray(off, off + a.byteLength));
    else if (type === 'f32') for (let i = 0; i < length; i++) a[i] = dv.getFloat32(off + 4 * i, true);
    else for (let i = 0; i < length; i++) a[i] = dv.getInt32(off + 4 * i, true);
    off += pad4(a.byteLength);
    return a;
  });
}

/** The float32 arrays after the header, of the given lengths; the file must end exactly there. */
export function readWeightArrays(
  bytes: Uint8Array,
  dataOffset: number,
  lengths: readonly number[],
  what: string,
): Float32Array[] {
  return readArrays(
    bytes,
    dataOffset,
    lengths.map((length) => ({ type: 'f32' as const, length })),
    what,
  ) as Float32Array[];
}
