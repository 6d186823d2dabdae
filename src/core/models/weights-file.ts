/**
 * A model file: magic (uint32 LE), format version (uint32 LE), header length (uint32 LE), a JSON
 * header, zero padding to 4 bytes, then float32 LE arrays back to back. The header says what the
 * arrays are; readers pass the lengths they expect.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function packWeights(magic: number, version: number, header: unknown, arrays: readonly Float32Array[]): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(12 + padded + arrays.reduce((s, a) => s + a.byteLength, 0));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, magic, true);
  dv.setUint32(4, version, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  let off = 12 + padded;
  for (const a of arrays) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), off);
    else for (let i = 0; i < a.length; i++) dv.setFloat32(off + 4 * i, a[i], true);
    off += a.byteLength;
  }
  return out;
}

/** The JSON header of a {@link packWeights} file (checks magic and version). */
export function readWeightsHeader<H>(bytes: Uint8Array, magic: number, version: number, what: string): { header: H; dataOffset: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 12 || dv.getUint32(0, true) !== magic) throw new Error(`${what}: not a ${what} file`);
  const v = dv.getUint32(4, true);
  if (v !== version) throw new Error(`${what}: unsupported format version ${v} (expected ${version})`);
  const length = dv.getUint32(8, true);
  if (12 + length > bytes.byteLength) throw new Error(`${what}: truncated header`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as H;
  return { header, dataOffset: 12 + Math.ceil(length / 4) * 4 };
}

/** The float32 arrays after the header, of the given lengths; the file must end exactly there. */
export function readWeightArrays(bytes: Uint8Array, dataOffset: number, lengths: readonly number[], what: string): Float32Array[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = dataOffset;
  const arrays = lengths.map((n) => {
    const a = new Float32Array(n);
    if (off + a.byteLength > bytes.byteLength) throw new Error(`${what}: truncated weights`);
    if (LITTLE_ENDIAN) new Uint8Array(a.buffer).set(bytes.subarray(off, off + a.byteLength));
    else for (let i = 0; i < n; i++) a[i] = dv.getFloat32(off + 4 * i, true);
    off += a.byteLength;
    return a;
  });
  if (off !== bytes.byteLength) throw new Error(`${what}: ${bytes.byteLength - off} unexpected trailing bytes`);
  return arrays;
}
