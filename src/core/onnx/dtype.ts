/** ONNX element types: numbers as TensorProto.DataType, names as numpy/onnx spell them. */
export const enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

interface DTypeInfo {
  name: string;
  /** Bits per element; 0 for strings. */
  bits: number;
  isFloat: boolean;
}

const INFO: Record<number, DTypeInfo> = {
  [DataType.UNDEFINED]: { name: 'undefined', bits: 0, isFloat: false },
  [DataType.FLOAT]: { name: 'float32', bits: 32, isFloat: true },
  [DataType.UINT8]: { name: 'uint8', bits: 8, isFloat: false },
  [DataType.INT8]: { name: 'int8', bits: 8, isFloat: false },
  [DataType.UINT16]: { name: 'uint16', bits: 16, isFloat: false },
  [DataType.INT16]: { name: 'int16', bits: 16, isFloat: false },
  [DataType.INT32]: { name: 'int32', bits: 32, isFloat: false },
  [DataType.INT64]: { name: 'int64', bits: 64, isFloat: false },
  [DataType.STRING]: { name: 'string', bits: 0, isFloat: false },
  [DataType.BOOL]: { name: 'bool', bits: 8, isFloat: false },
  [DataType.FLOAT16]: { name: 'float16', bits: 16, isFloat: true },
  [DataType.DOUBLE]: { name: 'float64', bits: 64, isFloat: true },
  [DataType.UINT32]: { name: 'uint32', bits: 32, isFloat: false },
  [DataType.UINT64]: { name: 'uint64', bits: 64, isFloat: false },
  [DataType.COMPLEX64]: { name: 'complex64', bits: 64, isFloat: false },
  [DataType.COMPLEX128]: { name: 'complex128', bits: 128, isFloat: false },
  [DataType.BFLOAT16]: { name: 'bfloat16', bits: 16, isFloat: true },
  [DataType.FLOAT8E4M3FN]: { name: 'float8e4m3fn', bits: 8, isFloat: true },
  [DataType.FLOAT8E4M3FNUZ]: { name: 'float8e4m3fnuz', bits: 8, isFloat: true },
  [DataType.FLOAT8E5M2]: { name: 'float8e5m2', bits: 8, isFloat: true },
  [DataType.FLOAT8E5M2FNUZ]: { name: 'float8e5m2fnuz', bits: 8, isFloat: true },
  [DataType.UINT4]: { name: 'uint4', bits: 4, isFloat: false },
  [DataType.INT4]: { name: 'int4', bits: 4, isFloat: false },
  [DataType.FLOAT4E2M1]: { name: 'float4e2m1', bits: 4, isFloat: true },
  [DataType.FLOAT8E8M0]: { name: 'float8e8m0', bits: 8, isFloat: true },
  [DataType.UINT2]: { name: 'uint2', bits: 2, isFloat: false },
  [DataType.INT2]: { name: 'int2', bits: 2, isFloat: false },
};

export function dtypeName(t: number): string {
  return INFO[t]?.name ?? `dtype${t}`;
}

export function dtypeFromName(name: string): DataType | undefined {
  for (const [k, v] of Object.entries(INFO)) if (v.name === name) return Number(k) as DataType;
  return undefined;
}

export function dtypeBits(t: number): number {
  return INFO[t]?.bits ?? 0;
}

export function isFloatType(t: number): boolean {
  return INFO[t]?.isFloat ?? false;
}

export function isKnownDataType(t: number): boolean {
  return INFO[t] !== undefined && t !== DataType.UNDEFINED;
}

/** Bytes needed to store `count` elements of type `t` packed (sub-byte types round up). */
export function storageBytes(t: number, count: number): number {
  const bits = dtypeBits(t);
  return Math.ceil((bits * count) / 8);
}
