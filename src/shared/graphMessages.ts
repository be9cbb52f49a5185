/**
 * The graph view's data and its messages between the extension host and the graph webview.
 *
 * The worker builds and lays out a `GraphDto` (every node of the main graph, and the bodies of
 * the If/Loop/Scan nodes the user expanded); the host passes it on untouched; the webview draws
 * it. As in webviewMessages.ts, every message is `{v: 1, type, ...}` and both directions have a
 * validator that checks shapes only (model-derived strings are inserted as text or drawn on canvas).
 * No `vscode` import and no engine import: host, worker and browser bundles share this file.
 */

export const GRAPH_PROTOCOL_VERSION = 1;

import type { GraphDto } from '../core/graph/types';
import { isArrOf as isItems, isBool, isNodeKey, isNum, isObj, isStr, oneOf, type Obj } from './webviewMessages';
export type { GraphAttributeDto, GraphDto, GraphEdgeDto, GraphNodeDto, GraphPeerDto, GraphTensorDto, NodeOutcome, NodeQuantState, RuntimeFate } from '../core/graph/types';

// ---------------------------------------------------------------------------------------------
// Messages

export interface GraphReadyMessage {
  v: 1;
  type: 'ready';
}
/** Lay the graph out again with these bodies expanded and units folded: all, or those listed (head keys). */
export interface GraphRelayoutMessage {
  v: 1;
  type: 'relayout';
  expanded: string[];
  collapsed: boolean;
  units: string[];
}
export type GraphAction = 'copyName' | 'showInText' | 'exclude';
export const GRAPH_ACTIONS: readonly GraphAction[] = ['copyName', 'showInText', 'exclude'];
/** An action on a node (by key) or a tensor (by name). */
export interface GraphActionMessage {
  v: 1;
  type: 'action';
  action: GraphAction;
  /** Node key or tensor name. */
  target: string;
}
/** The user selected a node: the host selects its pair in the peer's graph when that is open. */
export interface GraphSelectedMessage {
  v: 1;
  type: 'selected';
  /** Key of the same node in the model beside (GraphNodeDto.pair). */
  pair: string;
}
/** Open the graph of the model beside (GraphDto.peer) next to this one. */
export interface GraphOpenPeerMessage {
  v: 1;
  type: 'openPeer';
}
export type GraphToHostMessage = GraphReadyMessage | GraphRelayoutMessage | GraphActionMessage | GraphSelectedMessage | GraphOpenPeerMessage;

export interface GraphLoadingMessage {
  v: 1;
  type: 'loading';
  fileName: string;
}
export interface GraphDataMessage {
  v: 1;
  type: 'graph';
  graph: GraphDto;
  /** Nodes excluded from quantization (the Models view's and Quantize…'s exclusion state). */
  excluded: string[];
}
/** The graph as a file the webview fetches (a webview resource URI): large graphs never cross the host. */
export interface GraphFileMessage {
  v: 1;
  type: 'graphFile';
  uri: string;
  excluded: string[];
}
export interface GraphErrorMessage {
  v: 1;
  type: 'error';
  message: string;
}
/** Select a node (jump from elsewhere: the layer table, a diagnostic). */
export interface GraphRevealMessage {
  v: 1;
  type: 'reveal';
  node: string;
}
export type HostToGraphMessage = GraphLoadingMessage | GraphDataMessage | GraphFileMessage | GraphErrorMessage | GraphRevealMessage;

// ---------------------------------------------------------------------------------------------
// Validators

const MAX_NODES = 500_000;
const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= -1;
// A graph's lists may be longer than the other webview messages' (up to MAX_NODES items).
const isArrOf = (x: unknown, item: (y: unknown) => boolean, max = MAX_NODES): boolean => isItems(x, item, max);
const isStrArr = (x: unknown, max = MAX_NODES): boolean => isArrOf(x, (s) => isStr(s), max);
const versioned = (x: unknown): x is Obj & { type: unknown } => isObj(x) && x.v === GRAPH_PROTOCOL_VERSION && typeof x.type === 'string';

const NODE_KINDS = ['op', 'input', 'output'] as const;
const TENSOR_KINDS = ['initializer', 'constant', 'activation', 'input', 'output'] as const;
const OUTCOME_KINDS = ['integer', 'fused', 'float', 'removed'] as const;
const ROLES = ['float', 'quantized'] as const;

const isNode = (x: unknown): boolean =>
  isObj(x) &&
  isStr(x.key) &&
  isStr(x.label) &&
  isStr(x.opType) &&
  oneOf(x.kind, NODE_KINDS) &&
  isStr(x.domain) &&
  isIndex(x.depth) &&
  isStrArr(x.inputs) &&
  isStrArr(x.outputs) &&
  isArrOf(x.attributes, (a) => isObj(a) && isStr(a.name) && isStr(a.value)) &&
  isBool(x.expandable) &&
  isStrArr(x.modes, 8) &&
  isStr(x.quantized) &&
  isStrArr(x.notes, 100) &&
  isIndex(x.unit) &&
  isStr(x.pair) &&
  (x.runtime === null || (isObj(x.runtime) && isBool(x.runtime.fused) && isStr(x.runtime.text))) &&
  (x.outcome === null || (isObj(x.outcome) && oneOf(x.outcome.kind, OUTCOME_KINDS) && isStr(x.outcome.text))) &&
  [x.x, x.y, x.width, x.height].every(isNum);

const isStats = (x: unknown): boolean => x === null || (isObj(x) && [x.min, x.max, x.mean, x.std].every(isNum));
const isQuant = (x: unknown): boolean => x === null || (isObj(x) && isStr(x.scale) && isStr(x.zeroPoint) && isStr(x.axis) && isStr(x.type));

const isTensor = (x: unknown): boolean =>
  isObj(x) &&
  isStr(x.name) &&
  isStr(x.dtype) &&
  (x.shape === null || isArrOf(x.shape, (d) => isNum(d) || isStr(d), 64)) &&
  oneOf(x.kind, TENSOR_KINDS) &&
  isStats(x.stats) &&
  isQuant(x.quant);

export function isGraphDto(x: unknown): x is GraphDto {
  if (!isObj(x) || !Array.isArray(x.nodes)) return false;
  const count = x.nodes.length;
  const isEdge = (e: unknown): boolean =>
    isObj(e) && isIndex(e.from) && isIndex(e.to) && (e.from as number) < count && (e.to as number) < count && isStr(e.tensor) && isArrOf(e.points, isNum, 10_000);
  return (
    isStr(x.fileName) &&
    isArrOf(x.nodes, isNode) &&
    isArrOf(x.edges, isEdge, 4 * MAX_NODES) &&
    isArrOf(x.tensors, isTensor, 4 * MAX_NODES) &&
    isNum(x.width) &&
    isNum(x.height) &&
    isStrArr(x.expanded) &&
    isBool(x.collapsed) &&
    isStrArr(x.units) &&
    isNum(x.layoutMs) &&
    isStr(x.layoutEngine) &&
    isArrOf(x.errors, (e) => isObj(e) && isStr(e.node) && isNum(e.sqnrDb)) &&
    isStr(x.errorReport) &&
    (x.peer === null || (isObj(x.peer) && isStr(x.peer.file, 4096) && isStr(x.peer.fileName) && oneOf(x.peer.role, ROLES)))
  );
}

export function isGraphToHostMessage(x: unknown): x is GraphToHostMessage {
  if (!versioned(x)) return false;
  switch (x.type) {
    case 'ready':
      return true;
    case 'relayout':
      return isArrOf(x.expanded, (k) => isStr(k, 4096), 10_000) && isBool(x.collapsed) && isArrOf(x.units, (k) => isStr(k, 4096), 100_000);
    case 'action':
      return oneOf(x.action, GRAPH_ACTIONS) && isNodeKey(x.target);
    case 'selected':
      return isStr(x.pair, 4096);
    case 'openPeer':
      return true;
    default:
      return false;
  }
}

export function isHostToGraphMessage(x: unknown): x is HostToGraphMessage {
  if (!versioned(x)) return false;
  switch (x.type) {
    case 'loading':
      return isStr(x.fileName);
    case 'graph':
      return isGraphDto(x.graph) && isStrArr(x.excluded);
    case 'graphFile':
      return isStr(x.uri, 4096) && isStrArr(x.excluded);
    case 'error':
      return isStr(x.message);
    case 'reveal':
      return isStr(x.node, 4096);
    default:
      return false;
  }
}
