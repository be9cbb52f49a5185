/**
 * Oracle: `inspect --json` against Python's `onnx` package on every fixture (the shared sample
 * models and every built one). Node/op/parameter counts, I/O names, dtypes and shapes, opsets and
 * producer must agree; tensor values decoded by readFloat32 must equal numpy_helper's.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import { readFloat32 } from '../../../src/core/onnx/tensor';
import { makeTempDir, writeAllFixtures } from '../../fixtures/build';
import { ROOT, buildCli, findPythonWithOnnx, runCli } from './inspect-helpers';

const PYTHON_ORACLE = String.raw`
import json, sys, collections
import onnx
from onnx import numpy_helper

NAMES = {1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
         9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128',
         16: 'bfloat16', 21: 'uint4', 22: 'int4'}

def graphs(g):
    yield g
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from graphs(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sg in a.graphs:
                    yield from graphs(sg)

def io(vi):
    t = vi.type.tensor_type
    shape = None
    if t.HasField('shape'):
        shape = [d.dim_value if d.HasField('dim_value') else (d.dim_param if d.HasField('dim_param') else None) for d in t.shape.dim]
    return {'name': vi.name, 'dtype': NAMES.get(t.elem_type, 'dtype%d' % t.elem_type), 'shape': shape}

def key(n):
    return n.op_type if n.domain in ('', 'ai.onnx') else n.domain + '.' + n.op_type

out = {}
for f in sys.argv[1:]:
    raw = open(f, 'rb').read()
    m = onnx.load_model_from_string(raw)
    g = m.graph
    inits = [t for sg in graphs(g) for t in sg.initializer]
    params = 0
    for t in inits:
        n = 1
        for d in t.dims: n *= d
        params += n
    values = {}
    for t in g.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL or t.data_type not in (1, 2, 3, 5, 6, 7, 10, 11):
            continue
        a = numpy_helper.to_array(t).astype('float64').ravel()
        if a.size <= 64:
            values[t.name] = [float(x) for x in a]
    main_inits = set(t.name for t in g.initializer)
    out[f] = {
        'irVersion': m.ir_version,
        'producer': {'name': m.producer_name, 'version': m.producer_version},
        'opsets': {(o.domain or 'ai.onnx'): o.version for o in m.opset_import},
        'nodeCount': len(g.node),
        'opCounts': dict(collections.Counter(key(n) for n in g.node)),
        'subgraphNodeCount': sum(len(sg.node) for sg in graphs(g)) - len(g.node),
        'initializerCount': len(inits),
        'parameterCount': params,
        'inputs': [io(vi) for vi in g.input if vi.name not in main_inits],
        'outputs': [io(vi) for vi in g.output],
        'values': values,
        'sameBytes': m.SerializeToString() == raw,
    }
print(json.dumps(out))
`;

const python = findPythonWithOnnx();
const tmp = makeTempDir('onnxq-oracle-');
process.on('exit', tmp.cleanup);

before(() => buildCli());

test('inspect --json agrees with Python onnx on every fixture', { skip: python ? false : 'python3 with the onnx package (Debian python3-onnx) is not installed' }, () => {
  const shared = fs
    .readdirSync(path.join(ROOT, 'test/fixtures'))
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => path.join(ROOT, 'test/fixtures', f));
  const built = writeAllFixtures(tmp.dir);
  const files = [...shared, ...built];
  const r = spawnSync(python!, ['-c', PYTHON_ORACLE, ...files], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const oracle = JSON.parse(r.stdout) as Record<string, Record<string, unknown> & { values: Record<string, number[]>; subgraphNodeCount: number; sameBytes: boolean }>;
  assert.equal(Object.keys(oracle).length, files.length);
  let valuesCompared = 0;
  for (const file of files) {
    const name = path.relative(tmp.dir, file);
    const res = runCli(['inspect', file, '--json']);
    assert.equal(res.code, 0, `${name}: ${res.stderr}`);
    const s = JSON.parse(res.stdout);
    const o = oracle[file]!;
    for (const k of ['irVersion', 'producer', 'opsets', 'nodeCount', 'opCounts', 'initializerCount', 'parameterCount', 'inputs', 'outputs']) {
      assert.deepEqual(s[k], o[k], `${name}: ${k}`);
    }
    assert.equal(s.subgraphs.nodeCount, o.subgraphNodeCount, `${name}: subgraph nodes`);
    // The bytes we write are the bytes Python's protobuf writes (canonical field order, unknown fields kept).
    assert.ok(o.sameBytes, `${name}: Python re-serialises to different bytes`);
    // Decoded values (raw_data and typed fields, every dtype numpy_helper knows).
    const model = loadModel(file);
    for (const t of model.proto.graph!.initializer) {
      const expected = o.values[t.name];
      if (!expected) continue;
      assert.deepEqual(Array.from(readFloat32(t, model)), expected.map(Math.fround), `${name}: values of ${t.name}`);
      valuesCompared++;
    }
    model.external.close();
  }
  assert.ok(valuesCompared >= 20, `compared ${valuesCompared} tensors`);
});
