/** Dispatch one validated job request to its module. */
import type { JobContext } from '../../core/progress';
import type { JobRequest } from '../../shared/protocol';
import { bench, compare, perLayer } from './evaluate';
import { graph, graphToFile } from './graph';
import { quantize } from './quantize';
import { summarize } from './summarize';

export async function runJob(job: JobRequest, ctx: JobContext): Promise<unknown> {
  switch (job.kind) {
    case 'summarize':
      return summarize(job, ctx);
    case 'graph':
      return job.writeTo !== undefined ? graphToFile({ ...job, writeTo: job.writeTo }, ctx) : graph(job, ctx);
    case 'quantize':
      return quantize(job, ctx);
    case 'bench':
      return bench(job, ctx);
    case 'compare':
      return compare(job, ctx);
    case 'perLayer':
      return perLayer(job, ctx);
  }
}
