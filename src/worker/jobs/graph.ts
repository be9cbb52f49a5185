/** `graph` job: the graph view of a model, laid out here so the extension host never does it. */
import { throwIfCancelled } from '../../core/errors';
import { buildGraphView } from '../../core/graph/graphView';
import { readLayerErrors } from '../../core/graph/layerErrors';
import { layoutGraph } from '../../core/graph/layout';
import { loadModel } from '../../core/onnx/model';
import type { JobContext } from '../../core/progress';
import type { GraphDto } from '../../shared/graphMessages';
import type { GraphJob } from '../../shared/protocol';

export function graph(job: GraphJob, ctx: JobContext): GraphDto {
  ctx.onProgress?.({ stage: 'loading' });
  const model = loadModel(job.model);
  throwIfCancelled(ctx.signal);
  ctx.onProgress?.({ stage: 'building graph' });
  const view = buildGraphView(model, { expanded: job.expanded ?? [], collapsed: job.collapsed === true, units: job.units ?? [] });
  throwIfCancelled(ctx.signal);
  ctx.onProgress?.({ stage: 'laying out' });
  const laid = layoutGraph(view);
  const report = readLayerErrors(job.model);
  if (report) {
    laid.errors = report.errors;
    laid.errorReport = report.file;
  }
  ctx.log?.(`graph: ${laid.nodes.length} nodes, ${laid.edges.length} edges laid out by ${laid.layoutEngine} in ${laid.layoutMs.toFixed(0)} ms`);
  return laid;
}
