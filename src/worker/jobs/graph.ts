/** `graph` job: the graph view of a model, laid out here so the extension host never does it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { throwIfCancelled } from '../../core/errors';
import { buildGraphView } from '../../core/graph/graphView';
import { readLayerErrors } from '../../core/graph/layerErrors';
import { layoutGraph } from '../../core/graph/layout';
import { applyFates, runtimeFates } from '../../core/graph/fusion';
import { errorsOnPairs, isQuantizedModel, pairGraph, type ModelRole } from '../../core/graph/pairing';
import { indexModel, type ModelIndex } from '../../core/onnx/graph-index';
import { loadModel, modelDiskBytes } from '../../core/onnx/model';
import { writeFileAtomic } from '../../core/onnx/save';
import { formatBytes } from '../../core/report/format';
import { floatModelOf, variantsOf } from '../../core/report/locate';
import type { JobContext } from '../../core/progress';
import { recipePathFor } from '../../core/text/recipe';
import { parseRecipeText } from '../../core/text/recipeEdit';
import type { GraphDto } from '../../shared/graphMessages';
import type { GraphFile, GraphJob } from '../../shared/protocol';

/** Variants of a float model looked at for a quantized one (each is loaded). */
const MAX_VARIANTS = 3;

/** Models ONNX Runtime loads for the fusion view (a session of its own, and the optimized graph written once). */
const FUSION_NODE_LIMIT = 5_000;
const FUSION_BYTES_LIMIT = 64 * 2 ** 20;

export async function graph(job: GraphJob, ctx: JobContext): Promise<GraphDto> {
  ctx.onProgress?.({ stage: 'loading' });
  const model = loadModel(job.model);
  throwIfCancelled(ctx.signal);
  ctx.onProgress?.({ stage: 'building graph' });
  const index = indexModel(model.proto);
  const view = buildGraphView(model, { expanded: job.expanded ?? [], collapsed: job.collapsed === true, units: job.units ?? [], index });
  throwIfCancelled(ctx.signal);
  ctx.onProgress?.({ stage: 'laying out' });
  const laid = layoutGraph(view);
  const report = readLayerErrors(job.model);
  if (report) {
    laid.errors = report.errors;
    laid.errorReport = report.file;
  }
  const role: ModelRole = isQuantizedModel(index) ? 'quantized' : 'float';
  try {
    const peer = findPeer(job.model, role);
    if (peer) {
      ctx.onProgress?.({ stage: 'pairing with the model beside' });
      const floatFile = role === 'float' ? job.model : peer.file;
      pairGraph(laid, index, peer.index, role, withExclusions(report?.skipped, floatFile));
      if (role === 'quantized') laid.errors = errorsOnPairs(laid, laid.errors);
      laid.peer = { file: peer.file, fileName: path.basename(peer.file), role: role === 'float' ? 'quantized' : 'float' };
    }
  } catch (e) {
    ctx.log?.(`graph: no model beside ${path.basename(job.model)}: ${(e as Error).message}`);
  }
  const bytes = modelDiskBytes(model);
  if (index.nodes.length <= FUSION_NODE_LIMIT && bytes <= FUSION_BYTES_LIMIT) {
    ctx.onProgress?.({ stage: 'asking ONNX Runtime what it fuses' });
    try {
      applyFates(laid, await runtimeFates(job.model, index));
    } catch (e) {
      // A model ONNX Runtime cannot load still gets its graph (the Problems panel says why it cannot run).
      ctx.log?.(`graph: no fusion view for ${path.basename(job.model)}: ${(e as Error).message}`);
    }
  } else {
    ctx.log?.(`graph: no fusion view for ${path.basename(job.model)} (${index.nodes.length} nodes, ${formatBytes(bytes)}; the limits are ${FUSION_NODE_LIMIT} nodes and ${formatBytes(FUSION_BYTES_LIMIT)})`);
  }
  throwIfCancelled(ctx.signal);
  ctx.log?.(`graph: ${laid.nodes.length} nodes, ${laid.edges.length} edges laid out by ${laid.layoutEngine} in ${laid.layoutMs.toFixed(0)} ms${laid.peer ? `, paired with ${laid.peer.fileName}` : ''}`);
  return laid;
}

/** The quantizer's reasons, plus the nodes the float model's recipe keeps float (what Quantize… honours). */
function withExclusions(skipped: ReadonlyMap<string, string> | undefined, floatFile: string): Map<string, string> {
  const out = new Map(skipped ?? []);
  const file = recipePathFor(floatFile);
  if (!fs.existsSync(file)) return out;
  let recipe;
  try {
    recipe = parseRecipeText(fs.readFileSync(file, 'utf8'), path.basename(file));
  } catch {
    return out; // A broken recipe is reported where it is edited; the graph still pairs.
  }
  for (const [node, o] of Object.entries(recipe.nodes ?? {})) if (o.exclude && !out.has(node)) out.set(node, `excluded in ${path.basename(file)}`);
  return out;
}

/** The float model of a quantized one, or the newest quantized variant of a float one. */
function findPeer(model: string, role: ModelRole): { file: string; index: ModelIndex } | undefined {
  const candidates = role === 'quantized' ? [floatModelOf(model)].filter((f): f is string => !!f) : variantsOf(model).slice(0, MAX_VARIANTS);
  for (const file of candidates) {
    const index = indexModel(loadModel(file).proto);
    if (isQuantizedModel(index) !== (role === 'float')) continue;
    return { file, index };
  }
  return undefined;
}

/** The graph written as JSON to the job's `writeTo` (the webview reads it; the host only names it). */
export async function graphToFile(job: GraphJob & { writeTo: string }, ctx: JobContext): Promise<GraphFile> {
  const laid = await graph(job, ctx);
  writeFileAtomic(job.writeTo, JSON.stringify(laid));
  return { file: job.writeTo, nodes: laid.nodes.length, layoutEngine: laid.layoutEngine, layoutMs: laid.layoutMs, peerFile: laid.peer?.file ?? '' };
}
