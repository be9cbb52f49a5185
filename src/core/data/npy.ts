/** Reader and writer for NumPy `.npy` files (format versions 1-3, little-endian, C order). */
import { InputError } from '../errors';
import { readRegularFile } from '../util/files';

export type NpyDtype = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Little-endian element bytes, C order. */
  data: Uint8Array;
}

const DESCR: Record<string, { dtype: NpyDtype; size: number }> = {
  '<f4': { dtype: 'float32', size: 4 },
  '<f8': { dtype: 'float64', size: 8 },
  '<f2': { dtype: 'float16', size: 2 },
  '<i8': { dtype: 'int64', size: 8 },
  '<i4': { dtype: 'int32', size: 4 },
  '<i2': { dtype: 'int16', size: 2 },
  '|i1': { dtype: 'int8', size: 1 },
  '|u1': { dtype: 'uint8', size: 1 },
  '<u2': { dtype: 'uint16', size: 2 },
  '<u4': { dtype: 'uint32', size: 4 },
  '<u8': { dtype: 'uint64', size: 8 },
  '|b1': { dtype: 'bool', size: 1 },
};

export function parseNpy(bytes: Uint8Array, label = 'array'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new InputError(`'${label}' is not a .npy file`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw new InputError(`'${label}': truncated .npy header`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new InputError(`'${label}': unreadable .npy header`);
  const info = DESCR[descr === '<b1' ? '|b1' : descr === '<i1' ? '|i1' : descr === '<u1' ? '|u1' : descr];
  if (!info) throw new InputError(`'${label}': unsupported dtype '${descr}' (little-endian numeric arrays only)`);
  if (fortran === 'True') throw new InputError(`'${label}': Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new InputError(`'${label}': invalid shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const need = count * info.size;
  if (bytes.length - dataStart < need) throw new InputError(`'${label}': holds ${bytes.length - dataStart} data bytes, shape needs ${need}`);
  return { dtype: info.dtype, shape, data: bytes.subarray(dataStart, dataStart + need) };
}

/** Read a `.npy` file (a regular file only: a FIFO or device is refused before it is read). */
export function readNpy(file: string, what = '.npy file'): NpyArray {
  return parseNpy(readRegularFile(file, what), file);
}

const DESCR_OF: Record<NpyDtype, string> = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v.dtype, k])) as Record<NpyDtype, string>;

export function encodeNpy(arr: NpyArray): Uint8Array {
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[arr.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + arr.data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(arr.data, 10 + header.length);
  return out;
}

/** The array's values as float32 (copy), for float and integer dtypes. */
export function npyToFloat32(arr: NpyArray): Float32Array {
  const b = arr.data;
  const copy = new Uint8Array(b.length);
  copy.set(b);
  const buf = copy.buffer;
  switch (arr.dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return Float32Array.from(new Float64Array(buf));
    case 'int64':
      return Float32Array.from(new BigInt64Array(buf), Number);
    case 'int32':
      return Float32Array.from(new Int32Array(buf));
    case 'int16':
      return Float32Array.from(new Int16Array(buf));
    case 'int8':
      return Float32Array.from(new Int8Array(buf));
    case 'uint8':
    case 'bool':
      return Float32Array.from(copy);
    case 'uint16':
      return Float32Array.from(new Uint16Array(buf));
    case 'uint32':
      return Float32Array.from(new Uint32Array(buf));
    default:
      throw new InputError(`cannot convert ${arr.dtype} array to float32`);
  }
}
