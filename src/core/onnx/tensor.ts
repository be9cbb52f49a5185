import { create } from '@bufbuild/protobuf';
import { InputError } from '../errors';
import { DataType, dtypeBits, dtypeName, isKnownDataType, storageBytes } from './dtype';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToFloat16Bits } from './float16';
import { isExternal, type ExternalDataReader } from './model';
import { TensorProtoSchema, type TensorProto } from './schema';

/** Anything that can hand out external bytes (an OnnxModel's reader, or nothing for in-memory models). */
export interface TensorSource {
  external?: ExternalDataReader | undefined;
}

/** Largest element count we accept: keeps typed arrays allocatable and products exact. */
const MAX_ELEMENTS = 2 ** 40;

export function tensorShape(t: TensorProto): number[] {
  return t.dims.map((d) => {
    const n = Number(d);
    if (d < 0n || !Number.isSafeInteger(n)) throw new InputError(`tensor '${t.name}' has an invalid dimension ${d}`);
    return n;
  });
}

/** Number of elements; refuses negative dims and products that overflow. */
export function tensorElementCount(t: TensorProto): number {
  let n = 1;
  for (const d of tensorShape(t)) {
    n *= d;
    if (n > MAX_ELEMENTS) throw new InputError(`tensor '${t.name}' declares ${dimsText(t)} elements, too many`);
  }
  return n;
}

function dimsText(t: TensorProto): string {
  return `[${t.dims.join(', ')}]`;
}

/** Bytes the tensor occupies when stored as raw data (sub-byte types packed). */
export function tensorByteSize(t: TensorProto): number {
  if (t.dataType === DataType.STRING) return t.stringData.reduce((s, b) => s + b.length, 0);
  return storageBytes(t.dataType, tensorElementCount(t));
}

/**
 * The tensor's bytes as raw little-endian data: a view of `raw_data` (no copy), a read of its
 * external file, or an encoding of the typed repeated field. Length is checked against
 * shape × dtype so that later typed views cannot read out of bounds.
 */
export function tensorBytes(t: TensorProto, source?: TensorSource): Uint8Array {
  if (!isKnownDataType(t.dataType)) throw new InputError(`tensor '${t.name}' has unknown data type ${t.dataType}`);
  if (t.dataType === DataType.STRING) throw new InputError(`tensor '${t.name}' holds strings, not numbers`);
  const expected = tensorByteSize(t);
  let bytes: Uint8Array;
  if (isExternal(t)) {
    if (!source?.external) throw new InputError(`tensor '${t.name}' is stored as external data, but no model folder is known`);
    bytes = source.external.read(t, expected);
  } else if (t.rawData.length > 0 || expected === 0) {
    bytes = t.rawData;
  } else {
    bytes = encodeTypedField(t);
  }
  if (bytes.length !== expected) {
    throw new InputError(
      `tensor '${t.name}' has ${bytes.length} bytes of data, but shape ${dimsText(t)} of ${dtypeName(t.dataType)} needs ${expected}`,
    );
  }
  return bytes;
}

/** Encode the typed repeated field (float_data, int32_data, …) as raw little-endian bytes. */
function encodeTypedField(t: TensorProto): Uint8Array {
  const type = t.dataType;
  switch (type) {
    case DataType.FLOAT:
      return bytesOf(Float32Array.from(t.floatData));
    case DataType.DOUBLE:
      return bytesOf(Float64Array.from(t.doubleData));
    case DataType.INT64:
      return bytesOf(BigInt64Array.from(t.int64Data));
    case DataType.UINT32:
      return bytesOf(Uint32Array.from(t.uint64Data, (v) => Number(v)));
    case DataType.UINT64:
      return bytesOf(BigUint64Array.from(t.uint64Data));
    case DataType.INT32:
      return bytesOf(Int32Array.from(t.int32Data));
    case DataType.INT16:
      return bytesOf(Int16Array.from(t.int32Data));
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return bytesOf(Uint16Array.from(t.int32Data));
    case DataType.INT8:
      return bytesOf(Int8Array.from(t.int32Data));
    default: {
      const bits = dtypeBits(type);
      if (bits === 8) return Uint8Array.from(t.int32Data); // uint8, bool, float8 variants
      if (bits === 4 || bits === 2) {
        // Sub-byte types in int32_data: each entry holds one packed byte (length checked by the caller).
        return Uint8Array.from(t.int32Data);
      }
      throw new InputError(`tensor '${t.name}': typed data for ${dtypeName(type)} is not supported`);
    }
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** View bytes as a typed array, copying only when the offset is misaligned for the element size. */
function aligned<T>(bytes: Uint8Array, size: number, make: (buf: ArrayBufferLike, off: number, len: number) => T): T {
  if (bytes.byteOffset % size === 0) return make(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return make(copy.buffer, 0, bytes.byteLength / size);
}

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * The tensor's values in their natural typed array. float16/bfloat16 come back as raw
 * Uint16 bits (use readFloat32 for values); 4-bit types come back unpacked, one per element.
 */
export function readTensor(t: TensorProto, source?: TensorSource): NumericArray {
  const b = tensorBytes(t, source);
  switch (t.dataType) {
    case DataType.FLOAT:
      return aligned(b, 4, (buf, o, n) => new Float32Array(buf, o, n));
    case DataType.DOUBLE:
      return aligned(b, 8, (buf, o, n) => new Float64Array(buf, o, n));
    case DataType.INT64:
      return aligned(b, 8, (buf, o, n) => new BigInt64Array(buf, o, n));
    case DataType.UINT64:
      return aligned(b, 8, (buf, o, n) => new BigUint64Array(buf, o, n));
    case DataType.INT32:
      return aligned(b, 4, (buf, o, n) => new Int32Array(buf, o, n));
    case DataType.UINT32:
      return aligned(b, 4, (buf, o, n) => new Uint32Array(buf, o, n));
    case DataType.INT16:
      return aligned(b, 2, (buf, o, n) => new Int16Array(buf, o, n));
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return aligned(b, 2, (buf, o, n) => new Uint16Array(buf, o, n));
    case DataType.INT8:
      return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
    case DataType.INT4:
      return unpack4(b, tensorElementCount(t), true);
    case DataType.UINT4:
      return unpack4(b, tensorElementCount(t), false);
    default:
      if (dtypeBits(t.dataType) === 8) return b; // uint8, bool, float8 (raw bits)
      throw new InputError(`tensor '${t.name}': reading ${dtypeName(t.dataType)} values is not supported`);
  }
}

/** Values as float32 (converting float16/bfloat16/float64/integers). The result may be a view: do not modify it. */
export function readFloat32(t: TensorProto, source?: TensorSource): Float32Array {
  const a = readTensor(t, source);
  if (a instanceof Float32Array) return a;
  if (t.dataType === DataType.FLOAT16) return Float32Array.from(a as Uint16Array, float16BitsToFloat32);
  if (t.dataType === DataType.BFLOAT16) return Float32Array.from(a as Uint16Array, bfloat16BitsToFloat32);
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) return Float32Array.from(a, (v) => Number(v));
  return Float32Array.from(a as ArrayLike<number>);
}

/** Unpack 4-bit values, element 0 in the low nibble (ONNX and MatMulNBits layout). */
export function unpack4(bytes: Uint8Array, count: number, signed: boolean): Int8Array | Uint8Array {
  const out = signed ? new Int8Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const byte = bytes[i >> 1]!;
    let v = i & 1 ? byte >> 4 : byte & 0x0f;
    if (signed && v > 7) v -= 16;
    out[i] = v;
  }
  return out;
}

/** Pack 4-bit values (already in range), element 0 in the low nibble. */
export function pack4(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]! & 0x0f;
    out[i >> 1]! |= i & 1 ? v << 4 : v;
  }
  return out;
}

/** Build a tensor from raw bytes (copied into the message as raw_data unless `share` is set). */
export function makeTensor(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): TensorProto {
  const t = create(TensorProtoSchema, { name, dataType, dims: dims.map((d) => BigInt(d)) });
  t.rawData = raw as Uint8Array<ArrayBuffer>;
  const expected = storageBytes(dataType, dims.reduce((a, b) => a * b, 1));
  if (raw.length !== expected) throw new Error(`makeTensor ${name}: ${raw.length} bytes for ${expected} expected`);
  return t;
}

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  return makeTensor(name, DataType.FLOAT, dims, bytesOf(Float32Array.from(values)));
}

export function float16Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  return makeTensor(name, DataType.FLOAT16, dims, bytesOf(Uint16Array.from(values as ArrayLike<number>, float32ToFloat16Bits)));
}

export function int64Tensor(name: string, dims: readonly number[], values: ArrayLike<number | bigint>): TensorProto {
  return makeTensor(name, DataType.INT64, dims, bytesOf(BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v))));
}

export function int32Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  return makeTensor(name, DataType.INT32, dims, bytesOf(Int32Array.from(values)));
}

export function int8Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  return makeTensor(name, DataType.INT8, dims, bytesOf(Int8Array.from(values)));
}

export function uint8Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  return makeTensor(name, DataType.UINT8, dims, Uint8Array.from(values));
}

export { bytesOf };
