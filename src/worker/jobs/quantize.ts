/** `quantize` job: the engine's quantizeFile (it writes temp+rename and removes temps on failure). */
import { quantizeFile, type QuantizeResult } from '../../core/quantize';
import type { JobContext } from '../../core/progress';
import type { QuantizeJob } from '../../shared/protocol';

export function quantize(job: QuantizeJob, ctx: JobContext): Promise<QuantizeResult> {
  return quantizeFile(job.model, job.output, job.options, ctx);
}
