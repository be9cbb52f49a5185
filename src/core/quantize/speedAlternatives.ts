/**
 * What else could be faster when a weight-only output is not faster than float: the same output
 * at the other MatMulNBits accuracy levels, and dynamic int8 of the float model. Built in memory
 * (a model with external data gets none: its copies would not find their data file) and timed by
 * the speed check in the same alternation as float and the output.
 */
import { isExternal, loadModel } from '../onnx/model';
import { makeAttribute } from '../onnx/builder';
import { modelToBytes } from '../onnx/save';
import type { ModelProto } from '../onnx/schema';
import { walkGraphs, walkTensors } from '../onnx/walk';
import { quantizeDynamic } from './dynamic';
import { resolveOptions } from './options';
import { makeSelection } from './selection';

export interface SpeedAlternative {
  label: string;
  model: Uint8Array;
}

const LEVELS = [0, 1, 2, 4] as const;

export async function weightOnlyAlternatives(floatModel: string, output: string, level: number): Promise<SpeedAlternative[]> {
  const out: SpeedAlternative[] = [];
  const quantized = loadModel(output);
  try {
    if (hasExternalData(quantized.proto)) return [];
    for (const other of LEVELS) {
      if (other === level) continue;
      if (!setAccuracyLevel(quantized.proto, other)) break;
      out.push({ label: `accuracy level ${other}`, model: modelToBytes(quantized.proto) });
    }
  } finally {
    quantized.external.close();
  }
  const float = loadModel(floatModel);
  try {
    if (hasExternalData(float.proto)) return out;
    const { options } = resolveOptions({ mode: 'dynamic' });
    const dynamic = await quantizeDynamic(float, options, makeSelection(options));
    if (dynamic.quantizedNodes > 0) out.push({ label: 'dynamic int8', model: modelToBytes(dynamic.proto) });
  } finally {
    float.external.close();
  }
  return out;
}

/** Set accuracy_level on every MatMulNBits (any graph); false when there is none. */
function setAccuracyLevel(proto: ModelProto, level: number): boolean {
  let found = false;
  if (!proto.graph) return false;
  for (const { graph } of walkGraphs(proto.graph)) {
    for (const node of graph.node) {
      if (node.opType !== 'MatMulNBits') continue;
      found = true;
      node.attribute = [...node.attribute.filter((a) => a.name !== 'accuracy_level'), makeAttribute('accuracy_level', level)];
    }
  }
  return found;
}

function hasExternalData(proto: ModelProto): boolean {
  if (!proto.graph) return false;
  for (const { tensor } of walkTensors(proto.graph)) if (isExternal(tensor)) return true;
  return false;
}
