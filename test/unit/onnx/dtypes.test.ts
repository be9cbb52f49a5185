import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, dtypeName } from '../../../src/core/onnx/dtype';
import { loadModel } from '../../../src/core/onnx/model';
import { readFloat32, readTensor, tensorBytes } from '../../../src/core/onnx/tensor';
import { dtypeCases, dtypesModel, makeTempDir, writeModelFile } from '../../fixtures/build';

// Typed access for every dtype the engine handles, from raw_data and from the typed repeated fields,
// after a real write to disk and parse (so raw_data views sit at arbitrary offsets of the file buffer).
const { dir, cleanup } = makeTempDir();
const model = loadModel(writeModelFile(dir, 'dtypes.onnx', dtypesModel()));
cleanup();
const byName = new Map(model.proto.graph!.initializer.map((t) => [t.name, t]));

for (const c of dtypeCases()) {
  test(`${c.name}: ${dtypeName(c.dataType)} from ${c.storage === 'raw' ? 'raw_data' : 'the typed field'}`, () => {
    const t = byName.get(c.name)!;
    assert.ok(t, 'tensor present');
    assert.equal(c.storage === 'raw', t.rawData.length > 0);
    const values = readTensor(t);
    assert.equal(values.length, c.values.length);
    if (c.dataType === DataType.INT64) {
      assert.ok(values instanceof BigInt64Array);
      assert.deepEqual(Array.from(values as BigInt64Array), c.values.map(BigInt));
    } else if (c.dataType === DataType.FLOAT16) {
      assert.ok(values instanceof Uint16Array, 'float16 comes back as raw bits');
    } else {
      assert.deepEqual(Array.from(values as ArrayLike<number>), c.dataType === DataType.FLOAT ? c.values.map(Math.fround) : c.values);
    }
    // readFloat32 converts every numeric type (float16 exactly, since the cases are representable).
    assert.deepEqual(Array.from(readFloat32(t)), c.values.map(Math.fround));
    // Raw bytes have the packed size: 4-bit types take ceil(n / 2) bytes.
    const expectedBytes = c.dataType === DataType.INT4 || c.dataType === DataType.UINT4 ? Math.ceil(c.values.length / 2) : c.values.length * bytesPer(c.dataType);
    assert.equal(tensorBytes(t).length, expectedBytes);
  });
}

function bytesPer(t: number): number {
  return t === DataType.FLOAT || t === DataType.INT32 ? 4 : t === DataType.INT64 ? 8 : t === DataType.FLOAT16 ? 2 : 1;
}

test('a tensor whose data does not match its shape is refused with a clear InputError', () => {
  const t = byName.get('f32_raw')!;
  const bad = { ...t, dims: [3n, 3n] } as typeof t;
  assert.throws(() => readTensor(bad), (e: Error) => e.name === 'InputError' && /needs 36/.test(e.message));
});
