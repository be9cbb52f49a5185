/** Hand-built hostile models: structures a random mutation rarely reaches. */
import { create } from '@bufbuild/protobuf';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/core/onnx/builder';
import { DataType } from '../../src/core/onnx/dtype';
import { modelToBytes } from '../../src/core/onnx/save';
import { TensorProtoSchema, StringStringEntryProtoSchema } from '../../src/core/onnx/schema';
import { floatTensor } from '../../src/core/onnx/tensor';

const io = () => ({
  inputs: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
  outputs: [makeValueInfo('y', DataType.FLOAT, ['N', 4])],
});

function withInitializer(t: ReturnType<typeof floatTensor>): Uint8Array {
  const { inputs, outputs } = io();
  const g = makeGraph([makeNode('MatMul', ['x', t.name], ['y'])], 'g', inputs, outputs, [t]);
  return modelToBytes(makeModel(g));
}

/**
 * A chain of If nodes nested `depth` deep, encoded by hand: protobuf-es itself cannot encode
 * (and may not decode) such depth, which is the point of the case.
 */
function nestedIfs(depth: number): Uint8Array {
  const enc = new TextEncoder();
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return out;
  };
  const field = (no: number, payload: Uint8Array): Uint8Array => {
    const head = [...varint((no << 3) | 2), ...varint(payload.length)];
    const out = new Uint8Array(head.length + payload.length);
    out.set(head);
    out.set(payload, head.length);
    return out;
  };
  const cat = (...parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  const str = (no: number, s: string) => field(no, enc.encode(s));
  // GraphProto: node = 1, name = 2. NodeProto: input 1, output 2, op_type 4, attribute 5.
  // AttributeProto: name 1, g 6, type 20 (GRAPH = 5).
  let graph = cat(field(1, cat(str(1, 'x'), str(2, 'y'), str(4, 'Identity'))), str(2, 'leaf'));
  for (let i = 0; i < depth; i++) {
    const attr = cat(str(1, 'then_branch'), field(6, graph), new Uint8Array([0xa0, 0x01, 5]));
    const node = cat(str(1, 'cond'), str(2, 'y'), str(4, 'If'), field(5, attr));
    graph = cat(field(1, node), str(2, `g${i}`));
  }
  // ModelProto: ir_version = 1 (varint 8), graph = 7.
  return cat(new Uint8Array([0x08, 8]), field(7, graph));
}

export function hostileModels(): { name: string; bytes: Uint8Array }[] {
  const overflow = create(TensorProtoSchema, { name: 'w', dataType: DataType.FLOAT, dims: [2n ** 40n, 2n ** 40n] });
  const negative = create(TensorProtoSchema, { name: 'w', dataType: DataType.FLOAT, dims: [-4n, 4n] });
  const short = floatTensor('w', [4, 4], new Float32Array(16));
  short.rawData = short.rawData.subarray(0, 10);
  const unknownType = floatTensor('w', [4, 4], new Float32Array(16));
  unknownType.dataType = 99;
  const external = (location: string, offset = '0', length = '64') => {
    const t = create(TensorProtoSchema, { name: 'w', dataType: DataType.FLOAT, dims: [4n, 4n], dataLocation: 1 });
    t.externalData = [
      create(StringStringEntryProtoSchema, { key: 'location', value: location }),
      create(StringStringEntryProtoSchema, { key: 'offset', value: offset }),
      create(StringStringEntryProtoSchema, { key: 'length', value: length }),
    ];
    return t;
  };
  const floatDataShort = create(TensorProtoSchema, { name: 'w', dataType: DataType.FLOAT, dims: [4n, 4n], floatData: [1, 2, 3] });
  return [
    { name: 'dims-overflow', bytes: withInitializer(overflow) },
    { name: 'dims-negative', bytes: withInitializer(negative) },
    { name: 'raw-data-too-short', bytes: withInitializer(short) },
    { name: 'unknown-dtype', bytes: withInitializer(unknownType) },
    { name: 'float-data-too-short', bytes: withInitializer(floatDataShort) },
    { name: 'external-absolute', bytes: withInitializer(external('/etc/passwd')) },
    { name: 'external-dotdot', bytes: withInitializer(external('../outside.bin')) },
    { name: 'external-missing', bytes: withInitializer(external('missing.bin')) },
    { name: 'external-bad-offset', bytes: withInitializer(external('missing.bin', '-5')) },
    { name: 'nested-ifs-20', bytes: nestedIfs(20) },
    { name: 'nested-ifs-200', bytes: nestedIfs(200) },
    { name: 'nested-ifs-3000', bytes: nestedIfs(3000) },
    { name: 'empty-file', bytes: new Uint8Array(0) },
    { name: 'text-file', bytes: new TextEncoder().encode('{"not": "onnx"}\n') },
  ];
}
