import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel } from '../../../src/core/onnx/model';
import { modelToBytes } from '../../../src/core/onnx/save';
import { writeModel } from '../../../src/core/onnx/serialize';
import { createSession } from '../../../src/core/runtime/ort';
import { BUILT_MODELS, makeTempDir } from '../../fixtures/build/files';
import { pythonWithOnnx } from '../text/python';

const { dir, cleanup } = makeTempDir('serialize-');
test.after(cleanup);

/** Written tensor by tensor whatever the size (0: stream from the first byte). */
function writeStreamed(file: string, proto: Parameters<typeof writeModel>[1]): number {
  const fd = fs.openSync(file, 'w');
  try {
    return writeModel(fd, proto, 0);
  } finally {
    fs.closeSync(fd);
  }
}

test('a model written tensor by tensor parses back to the same message, and ONNX Runtime loads it', async () => {
  for (const { file, build, ortLoads } of BUILT_MODELS) {
    const proto = build();
    const out = path.join(dir, file);
    const written = writeStreamed(out, proto);
    assert.equal(written, fs.statSync(out).size, file);
    // Same message once parsed: re-encoding both gives identical bytes.
    assert.deepEqual(modelToBytes(loadModel(out).proto), modelToBytes(proto), file);
    if (ortLoads) await (await createSession(out)).release();
  }
});

test('the onnx checker accepts a streamed model', { skip: pythonWithOnnx() ? false : 'python3-onnx not installed' }, () => {
  const out = path.join(dir, 'mlp.onnx');
  const python = pythonWithOnnx() ?? 'python3';
  const r = spawnSync(python, ['-c', 'import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m); print(len(m.graph.initializer))', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(r.stdout.trim()), BUILT_MODELS[0]?.build().graph?.initializer.length);
});
