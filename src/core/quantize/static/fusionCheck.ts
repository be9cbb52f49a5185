/**
 * Which quantized ops ONNX Runtime actually fused (doc §0.1: a QDQ group ORT does not fuse runs
 * in float with extra Q/DQ work, and can make the model slower than float). Reads the graph ORT
 * optimizes at load on this machine and compares float op counts with the ones left float on purpose.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseModel } from '../../onnx/model';
import { modelToBytes } from '../../onnx/save';
import type { ModelProto, NodeProto } from '../../onnx/schema';
import { createSession, type SessionOptions } from '../../runtime/ort';

/** Float op types ORT may produce for an op it did not turn into an integer kernel. */
const FLOAT_FORMS: Record<string, string[]> = {
  Conv: ['Conv', 'FusedConv'],
  Gemm: ['Gemm', 'FusedGemm'],
  MatMul: ['MatMul', 'FusedMatMul'],
};

/**
 * The graph ONNX Runtime runs after its optimizations at `level`, from model bytes or a model file
 * (a file keeps its external data reachable).
 */
export async function optimizedModel(model: ModelProto | string, level: SessionOptions['optimization'] = 'all'): Promise<ModelProto> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-fusion-'));
  try {
    const file = path.join(dir, 'optimized.onnx');
    const session = await createSession(typeof model === 'string' ? model : modelToBytes(model), { optimizedModelFilePath: file, threads: 1, optimization: level });
    await session.release();
    return parseModel(fs.readFileSync(file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Op types (with counts) in the graph ONNX Runtime runs after its optimizations. */
export async function optimizedOpTypes(proto: ModelProto): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const n of (await optimizedModel(proto)).graph!.node) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  return counts;
}

/**
 * Quantized compute ops that ORT left in float, per op type: float ops of that type in the
 * optimized graph beyond the ones that were never quantized.
 */
export async function unfusedQuantizedOps(proto: ModelProto, quantized: NodeProto[], leftFloat: NodeProto[]): Promise<Map<string, number>> {
  const optimized = await optimizedOpTypes(proto);
  const out = new Map<string, number>();
  const byType = (nodes: NodeProto[]) => nodes.reduce((m, n) => m.set(n.opType, (m.get(n.opType) ?? 0) + 1), new Map<string, number>());
  const quantizedByType = byType(quantized);
  const floatByType = byType(leftFloat);
  for (const [op, count] of quantizedByType) {
    const forms = (Object.hasOwn(FLOAT_FORMS, op) ? FLOAT_FORMS[op] : undefined) ?? [op];
    const floatNow = forms.reduce((s, f) => s + (optimized.get(f) ?? 0), 0);
    const unfused = Math.min(count, floatNow - (floatByType.get(op) ?? 0));
    if (unfused > 0) out.set(op, unfused);
  }
  return out;
}
