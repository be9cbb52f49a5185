/** `bench`, `compare` and `perLayer` jobs: thin calls into src/core/evaluate. */
import * as path from 'node:path';
import { throwIfCancelled } from '../../core/errors';
import { benchModel } from '../../core/evaluate/bench';
import { compareModels } from '../../core/evaluate/compare';
import { evaluationInputs, modelInputs, checkSameInputs } from '../../core/evaluate/data';
import { perLayerErrors } from '../../core/evaluate/perLayer';
import { loadModel } from '../../core/onnx/model';
import { testDataBeside } from '../../core/data/testData';
import type { JobContext } from '../../core/progress';
import type { BenchJob, CompareJob, CompareJobResult, PerLayerJob } from '../../shared/protocol';
import type { BenchResult, LayerError } from '../../core/evaluate/types';
import { writeCompareReport } from './report';

export function bench(job: BenchJob, ctx: JobContext): Promise<BenchResult> {
  return benchModel(job.model, { data: job.data, batch: job.batch, runs: job.runs, warmup: job.warmup, threads: job.threads, dataRoots: job.dataRoots }, ctx);
}

export async function compare(job: CompareJob, ctx: JobContext): Promise<CompareJobResult> {
  const beside = job.testDataBeside && !job.data ? testDataBeside(job.reference) : undefined;
  const data = job.data ?? beside?.data;
  const labels = job.labels ?? beside?.labels;
  const result: CompareJobResult = await compareModels(job.reference, job.candidate, { data, labels, runs: job.runs, perLayer: job.perLayer, dataRoots: job.dataRoots }, ctx);
  if (beside) result.dataBeside = beside;
  throwIfCancelled(ctx.signal);
  if (job.reportStem) result.reportFiles = writeCompareReport(result, job.reportStem, job.quantize);
  return result;
}

/** Samples generated for the per-layer ranking when no data is given. */
const GENERATED_SAMPLES = 64;

export async function perLayer(job: PerLayerJob, ctx: JobContext): Promise<LayerError[]> {
  const reference = loadModel(job.reference);
  const candidate = loadModel(job.candidate);
  const specs = modelInputs(reference.proto);
  checkSameInputs(specs, modelInputs(candidate.proto));
  const data = evaluationInputs(reference.proto, specs, job.data, GENERATED_SAMPLES, undefined, job.dataRoots ?? [path.dirname(path.resolve(job.reference))]);
  return perLayerErrors(reference, candidate, data, {}, ctx);
}
