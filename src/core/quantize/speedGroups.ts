/**
 * The quantized nodes of a model in the groups the speed check reasons about: op type and size
 * class of the weight (a node's work per run grows with it, while what quantizing adds per node
 * is fixed: quantizing the activations, Q/DQ steps, an unfused kernel). Ordered by what most
 * likely costs time: op types ONNX Runtime runs unfused in that mode first (dynamic Conv becomes
 * ConvInteger plus float steps on every CPU), then the smallest work per node.
 */
import type { ModelIndex } from '../onnx/graph-index';
import { qualifiedOpType } from './selection';
import type { QuantMode } from './types';

export type SizeClass = 'no weight' | 'tiny' | 'small' | 'medium' | 'large';

/** Upper bounds (weight elements, exclusive) of each size class: 128², 512², 2048². */
const SIZE_CLASSES: readonly [SizeClass, number][] = [
  ['tiny', 128 * 128],
  ['small', 512 * 512],
  ['medium', 2048 * 2048],
  ['large', Infinity],
];

/** Op types that run without a fused integer kernel in a mode, whatever their size. */
const UNFUSED: Partial<Record<QuantMode, ReadonlySet<string>>> = { dynamic: new Set(['Conv']) };

export interface SpeedGroup {
  /** `MatMul, tiny weights (< 16 Ki elements)`. */
  label: string;
  opType: string;
  sizeClass: SizeClass;
  /** Node keys, in graph order. */
  nodes: string[];
  /** Mean weight elements per node. */
  meanWeightElements: number;
}

/** Elements of a node's largest constant input of rank ≥ 2 (its weight); 0 without one. */
export function weightElements(index: ModelIndex, key: string): number {
  const entry = index.byKey(key);
  if (!entry) return 0;
  let most = 0;
  for (const input of entry.node.input) {
    const tensor = input ? index.constant(input)?.tensor : undefined;
    if (!tensor || tensor.dims.length < 2) continue;
    most = Math.max(most, tensor.dims.reduce((n, d) => n * Number(d), 1));
  }
  return most;
}

export function sizeClassOf(elements: number): SizeClass {
  if (elements === 0) return 'no weight';
  return SIZE_CLASSES.find(([, below]) => elements < below)?.[0] ?? 'large';
}

/** 16384 → `16 Ki` (element counts of the class bounds, all powers of two). */
function elementsText(n: number): string {
  return n >= 2 ** 20 ? `${n / 2 ** 20} Mi` : n >= 1024 ? `${n / 1024} Ki` : String(n);
}

function classText(sizeClass: SizeClass): string {
  if (sizeClass === 'no weight') return 'no weight';
  const i = SIZE_CLASSES.findIndex(([c]) => c === sizeClass);
  const below = SIZE_CLASSES[i]?.[1] ?? Infinity;
  const above = i > 0 ? (SIZE_CLASSES[i - 1]?.[1] ?? 0) : 0;
  return below === Infinity ? `${sizeClass} weights (≥ ${elementsText(above)} elements)` : `${sizeClass} weights (< ${elementsText(below)} elements)`;
}

/** The quantized nodes (`quantizedKeys`) of the float model in `index`, grouped and ordered costliest first. */
export function speedGroups(index: ModelIndex, quantizedKeys: readonly string[], mode: QuantMode): SpeedGroup[] {
  const groups = new Map<string, SpeedGroup & { total: number }>();
  for (const key of quantizedKeys) {
    const entry = index.byKey(key);
    if (!entry) continue;
    const opType = qualifiedOpType(entry.node);
    const elements = weightElements(index, key);
    const sizeClass = sizeClassOf(elements);
    const id = `${opType}\u0000${sizeClass}`;
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { label: `${opType}, ${classText(sizeClass)}`, opType, sizeClass, nodes: [], meanWeightElements: 0, total: 0 }));
    group.nodes.push(key);
    group.total += elements;
  }
  const unfused = UNFUSED[mode];
  return [...groups.values()]
    .map(({ total, ...g }) => ({ ...g, meanWeightElements: Math.round(total / g.nodes.length) }))
    .sort((a, b) => Number(unfused?.has(b.opType) ?? false) - Number(unfused?.has(a.opType) ?? false) || a.meanWeightElements - b.meanWeightElements || b.nodes.length - a.nodes.length);
}
