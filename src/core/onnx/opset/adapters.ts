/**
 * One adapter per op definition whose signature or meaning changed between opset 1 and 13: the
 * rewrite that turns a node written for the previous definition into an exactly equivalent node
 * (plus helper nodes and constants) for the new one. A new definition with no entry here only
 * added types, attributes with the old behaviour as default, or negative axes: nodes stay as they are.
 * Behaviour follows the ONNX operator changelog and ONNX's version converter (onnx/version_converter/adapters).
 */
import { AttributeProto_AttributeType as AttrType, NodeProtoSchema, type NodeProto } from '../schema';
import { attrFloat, attrInt, attrInts, attrString, getAttribute } from '../builder';
import { DataType, dtypeFromName } from '../dtype';
import { copyMessage, removeAttribute, setAttribute, type NodeRewrite } from './rewrite';

/** An adapter mutates its node (a private copy) in place, or returns the node that replaces it (possibly at a later definition). */
export type Adapter = (node: NodeProto, rw: NodeRewrite) => void | NodeProto | { node: NodeProto; version: number };

/** Ops that lost the `consumed_inputs` attribute (a Caffe2 memory hint, no effect on results) at opset 6. */
const CONSUMED_INPUTS_AT_6 = [
  'Abs', 'Add', 'BatchNormalization', 'Ceil', 'Clip', 'Div', 'Dropout', 'Elu', 'Exp', 'Floor', 'HardSigmoid', 'InstanceNormalization',
  'LeakyRelu', 'Log', 'Max', 'Mean', 'Min', 'Mul', 'Neg', 'PRelu', 'Reciprocal', 'Relu', 'Selu', 'Sigmoid', 'Sqrt', 'Sub', 'Sum', 'Tanh',
];
/** Binary ops whose `broadcast`/`axis` attributes gave way to numpy broadcasting at opset 7. */
const LEGACY_BROADCAST_AT_7 = ['Add', 'And', 'Div', 'Equal', 'Greater', 'Less', 'Mul', 'Or', 'Pow', 'Sub', 'Xor'];

const dropAttributes =
  (...names: string[]): Adapter =>
  (node) => {
    for (const n of names) removeAttribute(node, n);
  };

/** Old-style broadcasting: B aligned with A starting at `axis`; numpy aligns trailing dims, so B gets trailing 1s. */
const legacyBroadcast: Adapter = (node, rw) => {
  const broadcast = attrInt(node, 'broadcast', 0);
  const axisAttr = getAttribute(node, 'axis');
  removeAttribute(node, 'broadcast');
  removeAttribute(node, 'axis');
  if (!broadcast || !axisAttr) return;
  const [a, b] = [(node.input[0] ?? ''), (node.input[1] ?? '')];
  const ra = rw.scope.rank(a);
  const rb = rw.scope.rank(b);
  if (ra === undefined || rb === undefined) return rw.refuse(`broadcasts its second input along axis ${axisAttr.i} and the rank of its inputs is unknown`);
  const axis = Number(axisAttr.i) < 0 ? Number(axisAttr.i) + ra : Number(axisAttr.i);
  const trailing = ra - axis - rb;
  if (trailing < 0) rw.refuse(`broadcast axis ${axisAttr.i} does not fit input ranks ${ra} and ${rb}`);
  if (trailing > 0) node.input[1] = rw.unsqueeze(b, Array.from({ length: trailing }, (_, i) => rb + i));
};

/** Extra outputs of a node that are read by nobody can be dropped; used ones make the rewrite impossible. */
function keepOnlyFirstOutput(node: NodeProto, rw: NodeRewrite, why: string): void {
  const used = node.output.slice(1).filter((o) => o && rw.scope.names.isUsed(o));
  if (used.length) rw.refuse(`${why} (output '${used[0]}' is used)`);
  node.output.splice(1);
}

const batchNormIsTest: Adapter = (node, rw) => {
  removeAttribute(node, 'is_test');
  keepOnlyFirstOutput(node, rw, 'its training-mode outputs (running mean and variance) have no inference equivalent');
};

const batchNormSpatial: Adapter = (node, rw) => {
  if (attrInt(node, 'spatial', 1) === 0) rw.refuse('uses spatial=0 (statistics per activation), which opset 9 removed');
  removeAttribute(node, 'spatial');
};

const dropoutIsTest: Adapter = (node) => {
  removeAttribute(node, 'is_test');
};

/** At opset 10 Dropout's mask became bool (it was of the input's type). */
const dropoutMaskType: Adapter = (node, rw) => keepOnlyFirstOutput(node, rw, 'its mask output changes type from float to bool at opset 10');

/** At opset 12 `ratio` became an input; with training_mode absent Dropout stays the identity. */
const dropoutRatioInput: Adapter = (node, rw) => {
  const ratio = removeAttribute(node, 'ratio');
  node.input.splice(1, node.input.length - 1, rw.floatScalar(`${node.output[0]}_ratio`, DataType.FLOAT, ratio ? ratio.f : 0.5));
};

const castToString: Adapter = (node, rw) => {
  const to = getAttribute(node, 'to');
  if (!to || to.type !== AttrType.STRING) return;
  const name = new TextDecoder().decode(to.s);
  const type = dtypeFromName(name.toLowerCase());
  if (type === undefined) return rw.refuse(`casts to '${name}', which is not a tensor type`);
  setAttribute(node, 'to', type);
};

const concatAxisRequired: Adapter = (node) => {
  if (!getAttribute(node, 'axis')) setAttribute(node, 'axis', 1);
};

const reshapeShapeInput: Adapter = (node, rw) => {
  removeAttribute(node, 'consumed_inputs');
  const shape = attrInts(node, 'shape');
  removeAttribute(node, 'shape');
  if (node.input.length >= 2 && node.input[1]) return;
  if (!shape) return rw.refuse('has no shape');
  node.input.splice(1, node.input.length - 1, rw.int64s(`${node.output[0]}_shape`, shape));
};

const padRenamePaddings: Adapter = (node) => {
  const paddings = attrInts(node, 'paddings');
  if (paddings) {
    removeAttribute(node, 'paddings');
    setAttribute(node, 'pads', paddings);
  }
};

const padInputs: Adapter = (node, rw) => {
  const pads = attrInts(node, 'pads') ?? rw.refuse('has no pads');
  const value = attrFloat(node, 'value', 0);
  removeAttribute(node, 'pads');
  removeAttribute(node, 'value');
  const inputs = [(node.input[0] ?? ''), rw.int64s(`${node.output[0]}_pads`, pads)];
  if (value !== 0 && attrString(node, 'mode', 'constant') === 'constant') {
    inputs.push(rw.floatScalar(`${node.output[0]}_value`, elemTypeOrRefuse((node.input[0] ?? ''), rw), value));
  }
  node.input.splice(0, node.input.length, ...inputs);
};

function elemTypeOrRefuse(name: string, rw: NodeRewrite): number {
  return rw.scope.elemType(name) ?? rw.refuse(`needs the element type of '${name}', which is unknown`);
}

/** Clip-6's min/max attributes as Clip-11 inputs; an absent bound stays absent (unbounded). */
const clipInputs: Adapter = (node, rw) => {
  const min = removeAttribute(node, 'min');
  const max = removeAttribute(node, 'max');
  if (!min && !max) return;
  const type = elemTypeOrRefuse((node.input[0] ?? ''), rw);
  const inputs = [(node.input[0] ?? ''), min ? rw.floatScalar(`${node.output[0]}_min`, type, min.f) : ''];
  if (max) inputs.push(rw.floatScalar(`${node.output[0]}_max`, type, max.f));
  node.input.splice(0, node.input.length, ...inputs);
};

const sliceInputs: Adapter = (node, rw) => {
  const starts = attrInts(node, 'starts') ?? rw.refuse('has no starts');
  const ends = attrInts(node, 'ends') ?? rw.refuse('has no ends');
  const axes = attrInts(node, 'axes');
  for (const a of ['starts', 'ends', 'axes']) removeAttribute(node, a);
  const base = (node.output[0] ?? '');
  const inputs = [(node.input[0] ?? ''), rw.int64s(`${base}_starts`, starts), rw.int64s(`${base}_ends`, ends)];
  if (axes) inputs.push(rw.int64s(`${base}_axes`, axes));
  node.input.splice(0, node.input.length, ...inputs);
};

const topKInput: Adapter = (node, rw) => {
  const k = attrInt(node, 'k', -1);
  if (k < 0) rw.refuse('has no k');
  removeAttribute(node, 'k');
  node.input.splice(1, node.input.length - 1, rw.int64s(`${node.output[0]}_k`, [k]));
};

/** Split-1 could take the split sizes as a second input; Split-2 only as an attribute. */
const splitInputToAttribute: Adapter = (node, rw) => {
  if (node.input.length < 2 || !node.input[1]) return;
  const sizes = rw.constantInts(node.input[1]) ?? rw.refuse('takes its split sizes from a tensor computed at run time');
  setAttribute(node, 'split', sizes);
  node.input.splice(1);
};

const splitAttributeToInput: Adapter = (node, rw) => {
  const split = attrInts(node, 'split');
  if (!split) return;
  removeAttribute(node, 'split');
  node.input.splice(1, node.input.length - 1, rw.int64s(`${node.output[0]}_split`, split));
};

const axesAttributeToInput: Adapter = (node, rw) => {
  const axes = attrInts(node, 'axes');
  if (!axes) return;
  removeAttribute(node, 'axes');
  node.input.splice(1, node.input.length - 1, rw.int64s(`${node.output[0]}_axes`, axes));
};

/**
 * Before opset 13 Softmax, LogSoftmax and Hardmax coerced their input to 2-D at `axis` (default 1)
 * and normalised over everything from `axis` on; from 13 they normalise over one axis. Same
 * result: Flatten at the old axis, normalise the last axis, Reshape back to the input's shape.
 */
const coerced2D: Adapter = (node, rw) => {
  const x = (node.input[0] ?? '');
  const rank = rw.scope.rank(x);
  let axis = attrInt(node, 'axis', 1);
  if (rank !== undefined && axis < 0) axis += rank;
  if (rank !== undefined && axis === rank - 1) {
    setAttribute(node, 'axis', -1);
    return;
  }
  const y = (node.output[0] ?? '');
  const flat = rw.fresh(`${x}_2d`);
  const shape = rw.fresh(`${x}_shape`);
  const inner = rw.fresh(`${y}_2d`);
  rw.emit('Shape', [x], [shape]);
  rw.emit('Flatten', [x], [flat], { axis });
  node.input[0] = flat;
  node.output[0] = inner;
  setAttribute(node, 'axis', 1);
  rw.emitAfter('Reshape', [inner, shape], [y]);
};

const upsampleScalesAttribute: Adapter = (node, rw) => {
  const h = getAttribute(node, 'height_scale');
  const w = getAttribute(node, 'width_scale');
  if (!h || !w) return rw.refuse('has no height_scale/width_scale');
  removeAttribute(node, 'height_scale');
  removeAttribute(node, 'width_scale');
  setAttribute(node, 'scales', { floats: [1, 1, h.f, w.f] });
};

const upsampleScalesInput: Adapter = (node, rw) => {
  const scales = getAttribute(node, 'scales');
  if (!scales) return;
  removeAttribute(node, 'scales');
  node.input.splice(1, node.input.length - 1, rw.floats(`${node.output[0]}_scales`, scales.floats));
};

/**
 * Upsample (deprecated at 10) is Resize with the same inputs. Its coordinates are "asymmetric"
 * and its nearest pixel is the floor (scales are ≥ 1), which Resize-11 has to be told.
 */
const upsampleToResize: Adapter = (node, rw) => {
  const mode = attrString(node, 'mode', 'nearest');
  const resize = copyMessage(NodeProtoSchema, node, { opType: 'Resize', attribute: [] });
  setAttribute(resize, 'mode', mode);
  if (rw.target < 11) return resize;
  resize11Form(resize, rw, 'floor');
  return { node: resize, version: 11 };
};

/** Resize-10 → 11: an empty roi input, the old coordinate mapping, and its nearest-pixel rule. */
const resize10To11: Adapter = (node, rw) => {
  let nearest: string | undefined;
  if (attrString(node, 'mode', 'nearest') === 'nearest') {
    // Opset 10 took the floor when upsampling an axis and the ceiling when downsampling it.
    const scales = rw.constantNumbers(node.input[1]) ?? rw.refuse('uses nearest mode with scales computed at run time');
    const down = scales.some((s) => s < 1);
    if (down && scales.some((s) => s > 1)) rw.refuse('uses nearest mode and both up- and downsamples');
    nearest = down ? 'ceil' : 'floor';
  }
  resize11Form(node, rw, nearest);
};

function resize11Form(node: NodeProto, rw: NodeRewrite, nearest: string | undefined): void {
  const roi = rw.floats(`${node.output[0]}_roi`, []);
  node.input.splice(1, 0, roi);
  setAttribute(node, 'coordinate_transformation_mode', 'asymmetric');
  if (nearest) setAttribute(node, 'nearest_mode', nearest);
}

const scatterToScatterElements: Adapter = (node) => copyMessage(NodeProtoSchema, node, { opType: 'ScatterElements' });

const scanBatched: Adapter = (_node, rw) => rw.refuse('is the batched Scan of opset 8 (sequence_lens and a batch axis), which opset 9 replaced');

/**
 * PRelu before opset 7 applied a 1-D slope per channel (axis 1, as Caffe2 did); from 7 the slope
 * broadcasts numpy-style (trailing axes), so a per-channel slope gets trailing 1s.
 */
const preluChannelSlope: Adapter = (node, rw) => {
  const slope = (node.input[1] ?? '');
  const rs = rw.scope.rank(slope);
  const size = rw.scope.constant(slope)?.dims.reduce((a, b) => a * Number(b), 1);
  if (rs === 0 || size === 1) return;
  const rx = rw.scope.rank((node.input[0] ?? ''));
  if (rs === undefined || rx === undefined) return rw.refuse('has a slope or input of unknown rank, and slopes were per channel before opset 7');
  if (rs !== 1 || rx <= 2) return;
  node.input[1] = rw.unsqueeze(slope, Array.from({ length: rx - 2 }, (_, i) => i + 1));
};

/** Tile-1 repeated along one axis (tiles, axis inputs); Tile-6 takes repeats for every axis. */
const tileRepeats: Adapter = (node, rw) => {
  if (node.input.length < 3) return;
  const tiles = rw.constantInts(node.input[1]);
  const axis = rw.constantInts(node.input[2]);
  const rank = rw.scope.rank((node.input[0] ?? ''));
  if (!tiles || !axis || rank === undefined) return rw.refuse('takes tiles/axis computed at run time or an input of unknown rank');
  const repeats = Array.from({ length: rank }, (_, i) => (i === axis[0] ? (tiles[0] ?? 1) : 1));
  node.input.splice(1, 2, rw.int64s(`${node.output[0]}_repeats`, repeats));
};

/** LpPool-2 takes p as an integer (it was a float). */
const lpPoolIntegerP: Adapter = (node, rw) => {
  const p = getAttribute(node, 'p');
  if (!p || p.type !== AttrType.FLOAT) return;
  if (!Number.isInteger(p.f)) rw.refuse(`uses p=${p.f}, and p is an integer from opset 2`);
  setAttribute(node, 'p', p.f);
};

const table: Record<string, Record<number, Adapter>> = {};
const register = (ops: string[], version: number, adapter: Adapter) => {
  for (const op of ops) (table[op] ??= {})[version] = adapter;
};
register(CONSUMED_INPUTS_AT_6, 6, dropAttributes('consumed_inputs'));
register(LEGACY_BROADCAST_AT_7, 7, legacyBroadcast);
register(['Gemm'], 7, dropAttributes('broadcast'));
register(['PRelu'], 7, preluChannelSlope);
register(['BatchNormalization'], 7, batchNormIsTest);
register(['BatchNormalization'], 9, batchNormSpatial);
register(['Dropout'], 7, dropoutIsTest);
register(['Dropout'], 10, dropoutMaskType);
register(['Dropout'], 12, dropoutRatioInput);
register(['GRU', 'LSTM', 'RNN'], 7, dropAttributes('output_sequence'));
register(['Cast'], 6, castToString);
register(['Concat'], 4, concatAxisRequired);
register(['Reshape'], 5, reshapeShapeInput);
register(['Pad'], 2, padRenamePaddings);
register(['Pad'], 11, padInputs);
register(['Clip'], 11, clipInputs);
register(['Slice'], 10, sliceInputs);
register(['TopK'], 10, topKInput);
register(['Split'], 2, splitInputToAttribute);
register(['Split'], 13, splitAttributeToInput);
register(['Squeeze', 'Unsqueeze', 'ReduceSum'], 13, axesAttributeToInput);
register(['Softmax', 'LogSoftmax', 'Hardmax'], 13, coerced2D);
register(['Upsample'], 7, upsampleScalesAttribute);
register(['Upsample'], 9, upsampleScalesInput);
register(['Upsample'], 10, upsampleToResize);
register(['Resize'], 11, resize10To11);
register(['Scatter'], 11, scatterToScatterElements);
register(['Scan'], 9, scanBatched);
register(['Tile'], 6, tileRepeats);
register(['LpPool', 'GlobalLpPool'], 2, lpPoolIntegerP);

/** The adapter for the definition of `op` introduced at `version`, if that definition changed the op incompatibly. */
export function adapterFor(op: string, version: number): Adapter | undefined {
  return table[op]?.[version];
}

