/** Spelling of types, shapes and literal values in the ONNX textual syntax. */
import { DataType, dtypeName } from '../onnx/dtype';
import type { TensorProto, TypeProto, TensorShapeProto } from '../onnx/schema';
import { readTensor } from '../onnx/tensor';
import { isValidIdentifier, quoteString } from './identifiers';

/** Element type as the syntax names it (`float`, `double`; the rest match dtypeName). */
export function elemTypeText(t: number): string {
  if (t === DataType.FLOAT) return 'float';
  if (t === DataType.DOUBLE) return 'double';
  return dtypeName(t);
}

export function shapeText(shape: TensorShapeProto): string {
  const dims = shape.dim.map((d) => {
    if (d.value.case === 'dimValue') return String(d.value.value);
    if (d.value.case === 'dimParam') return isValidIdentifier(d.value.value) ? d.value.value : quoteString(d.value.value);
    return '?';
  });
  return `[${dims.join(',')}]`;
}

/** `float[N,1,8,8]`; a scalar is `float`, an unknown shape `float[]` (as onnx.printer writes them). */
export function typeText(type: TypeProto | undefined): string {
  const v = type?.value;
  switch (v?.case) {
    case 'tensorType':
      return elemTypeText(v.value.elemType) + (v.value.shape ? (v.value.shape.dim.length ? shapeText(v.value.shape) : '') : '[]');
    case 'sparseTensorType':
      return `sparse_tensor(${elemTypeText(v.value.elemType)}${v.value.shape?.dim.length ? shapeText(v.value.shape) : ''})`;
    case 'sequenceType':
      return `seq(${typeText(v.value.elemType)})`;
    case 'optionalType':
      return `optional(${typeText(v.value.elemType)})`;
    case 'mapType':
      return `map(${elemTypeText(v.value.keyType)}, ${typeText(v.value.valueType)})`;
    default:
      return 'float[]';
  }
}

export function tensorTypeText(t: TensorProto): string {
  return elemTypeText(t.dataType) + (t.dims.length ? `[${t.dims.join(',')}]` : '');
}

/**
 * Shortest decimal that reads back as the same float32, always with a `.` or exponent so the
 * parser takes it as a float, not an integer.
 */
export function floatText(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  let s = String(x);
  const f = Math.fround(x);
  if (f === x) {
    for (let p = 1; p <= 9; p++) {
      const c = x.toPrecision(p);
      if (Math.fround(Number(c)) === f) {
        s = String(Number(c));
        break;
      }
    }
  }
  return /[.eE]/.test(s) ? s.replace(/e\+?/, 'e') : `${s}.0`;
}

/** Values of a small tensor as the syntax writes them inside `{...}`; undefined when not printable. */
export function tensorValuesText(t: TensorProto, limit: number): { text: string; shown: number; total: number } | undefined {
  if (t.dataType === DataType.STRING) {
    const shown = t.stringData.slice(0, limit).map((b) => quoteString(new TextDecoder().decode(b)));
    return { text: shown.join(', '), shown: shown.length, total: t.stringData.length };
  }
  let values: ArrayLike<number | bigint>;
  try {
    values = readTensor(t);
  } catch {
    return undefined; // external or malformed data: the caller summarises instead
  }
  const isFloat = t.dataType === DataType.FLOAT || t.dataType === DataType.DOUBLE;
  const n = Math.min(values.length, limit);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    // float16/bfloat16 print their 16-bit pattern, as onnx.printer does.
    parts.push(isFloat ? floatText(Number(v)) : String(v));
  }
  return { text: parts.join(', '), shown: n, total: values.length };
}
