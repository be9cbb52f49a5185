/**
 * The checks after an output is saved: the float model on the validation probe, the quantized
 * model on the same probe, then fidelity. For a large model they run in a child process
 * (checkProcess.ts, bundled as dist/check.js), so that the quantizer's own buffers (the input
 * file, the rewritten graph) and ONNX Runtime's sessions are never resident at the same time, and
 * everything the sessions took goes back to the system when the child exits.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CancelledError, InputError, WorkError } from '../errors';
import { loadModel, withGraphFromFile, type OnnxModel } from '../onnx/model';
import type { QuantizeFidelity, QuantizeSpeed } from '../evaluate/types';
import type { InputSpec } from '../evaluate/data';
import { quantizeSpeedCheck, speedProbeOf } from './speedCheck';
import { fidelityInputs, measureQuantizeFidelity, type FidelityInputs } from './fidelity';
import type { ResolvedOptions } from './selection';
import type { QuantizeOptions } from './types';
import { makeProbe, runFloatOnProbe, validateQuantized, type Probe } from './validate';
import { externalWeightBytes, stageWeightCap } from '../calibrate/stages';
import { formatBytes } from '../report/format';

/** Models from this size on are checked in a child process (when its entry is at hand). */
export const CHECK_IN_CHILD_BYTES = 32 * 2 ** 20;

export interface CheckRequest {
  /** The float model. */
  input: string;
  /** The saved quantized model. */
  output: string;
  options: QuantizeOptions;
  resolved: ResolvedOptions;
  quantizedNodes: number;
  /** Keys of the nodes quantized (the fidelity warning names the nodes to keep float from them). */
  quantizedKeys?: string[] | undefined;
  /** The quantized model's inputs, for the speed check's feeds. */
  quantizedInputs?: InputSpec[];
}

export interface CheckOutcome {
  /** The float model fails on the probe (the probe's fault): the caller decides what that means. */
  floatProblem?: string;
  fidelity?: QuantizeFidelity;
  speed?: QuantizeSpeed;
  warnings: string[];
  /** An error the check raised; the caller removes the output and throws it. */
  error?: { kind: 'input' | 'work' | 'cancelled'; message: string };
  /** Peak resident memory of the child process, when the checks ran in one (bytes). */
  peakRssBytes?: number;
}

/** Run the checks in this process. */
export async function runChecks(req: CheckRequest, signal?: AbortSignal): Promise<CheckOutcome> {
  const warnings: string[] = [];
  const prepared = prepare(req, warnings);
  if ('error' in prepared) return { warnings, error: prepared.error };
  const { probe, inputs, model, stageWeightBytes } = prepared;
  let speedProbe = prepared.speedProbe;
  const staged = stageWeightBytes !== undefined ? { model, capBytes: stageWeightBytes } : undefined;
  if (staged && speedProbe) {
    warnings.push(
      `speed not measured: the float model's ${formatBytes(prepared.externalBytes)} of external weights pass what one ONNX Runtime session may hold within the memory budget (${formatBytes(stageWeightBytes ?? 0)} of ${req.resolved.memoryBudget} MiB); it was validated in stages`,
    );
    speedProbe = undefined;
  }
  // The child runs with --expose-gc: the file's bytes go back before ONNX Runtime loads its own copy.
  (globalThis as { gc?: () => void }).gc?.();
  try {
    if (probe) {
      const floatRun = await runFloatOnProbe(model.path, probe, staged);
      if (floatRun.problem) return { floatProblem: floatRun.problem, warnings };
      if (req.quantizedNodes > 0) {
        try {
          await validateQuantized(req.output, probe, floatRun);
        } catch (e) {
          return { warnings, error: errorOf(e, 'the quantized model failed validation, nothing was written: ') };
        }
      }
    }
    const outcome: CheckOutcome = { warnings };
    const ctx = signal ? { signal } : {};
    try {
      const fidelity = inputs ? await measureQuantizeFidelity(model, req.output, () => undefined, req.options, req.resolved, warnings, ctx, inputs, stageWeightBytes, req.quantizedKeys) : undefined;
      if (fidelity) outcome.fidelity = fidelity;
      if (speedProbe && req.quantizedNodes > 0) {
        const input = { floatModel: model.path, quantizedModel: req.output, probe: speedProbe, quantizedInputs: req.quantizedInputs ?? [], mode: req.resolved.mode, accuracyLevel: req.resolved.accuracyLevel };
        const speed = await quantizeSpeedCheck(input, () => undefined, warnings, ctx);
        if (speed) outcome.speed = speed;
      }
      return outcome;
    } catch (e) {
      return { ...outcome, error: errorOf(e, '') };
    }
  } finally {
    model.external.close();
  }
}

interface Prepared {
  probe: Probe | undefined;
  /** The probe, or (without validation) one made for the speed check alone. */
  speedProbe: Probe | (() => Probe) | undefined;
  inputs: FidelityInputs | undefined;
  model: OnnxModel;
  externalBytes: number;
  /** Set when the float model is to run in stages of this many weight bytes (its external weights pass the budget's share). */
  stageWeightBytes: number | undefined;
}

/**
 * What needs the float model's graph is taken first (probe, fidelity inputs); then its weights
 * are let go (the sessions read the file themselves) and read again only if per-layer ranking
 * needs them: `model.proto` loads on first use.
 */
function prepare(req: CheckRequest, warnings: string[]): Prepared | { error: NonNullable<CheckOutcome['error']> } {
  // The graph alone: large weights stay in the file (lazyWeights), this process never holds them.
  const loaded = loadModel(req.input, { lazyWeights: true });
  const probe = req.resolved.validate ? makeProbe(loaded.proto, req.resolved.calibrationData, req.options.inputs, req.resolved.dataRoots) : undefined;
  const speedProbe = req.resolved.speedCheck ? speedProbeOf(probe, () => makeProbe(loaded.proto, req.resolved.calibrationData, req.options.inputs, req.resolved.dataRoots)) : undefined;
  let inputs: FidelityInputs | undefined;
  if (req.resolved.fidelity) {
    try {
      inputs = fidelityInputs(loaded, req.options, req.resolved);
    } catch (e) {
      if (e instanceof InputError || req.options.minSqnrDb !== undefined) return { error: errorOf(e, '') };
      warnings.push(`fidelity not measured: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const cap = stageWeightCap(req.resolved.memoryBudget * 2 ** 20);
  const externalBytes = loaded.proto.graph ? externalWeightBytes(loaded.proto.graph) : 0;
  return { probe, speedProbe, inputs, model: withGraphFromFile(loaded), externalBytes, stageWeightBytes: externalBytes > cap ? cap : undefined };
}

function errorOf(e: unknown, workPrefix: string): NonNullable<CheckOutcome['error']> {
  const message = (e as Error).message ?? String(e);
  if (e instanceof CancelledError) return { kind: 'cancelled', message };
  if (e instanceof InputError) return { kind: 'input', message };
  return { kind: 'work', message: `${workPrefix}${message}` };
}

/** The error a check outcome carries, as the class the caller throws. */
export function outcomeError(error: NonNullable<CheckOutcome['error']>): Error {
  if (error.kind === 'cancelled') return new CancelledError();
  if (error.kind === 'input') return new InputError(error.message);
  return new WorkError(error.message);
}

/** The child's entry: the bundle's dist/check.js, or the TypeScript source under tsx (tests, bench). */
function childEntry(): { file: string; execArgv: string[] } | undefined {
  const bundled = path.join(__dirname, 'check.js');
  if (fs.existsSync(bundled)) return { file: bundled, execArgv: [] };
  const source = path.join(__dirname, 'checkProcess.ts');
  if (fs.existsSync(source) && process.execArgv.some((a) => a.includes('tsx'))) return { file: source, execArgv: ['--import', 'tsx'] };
  return undefined;
}

export function canCheckInChild(): boolean {
  return childEntry() !== undefined;
}

/** Run the checks in a child process (the request goes in on stdin, the outcome comes back on stdout). */
export async function runChecksInChild(req: CheckRequest, signal?: AbortSignal): Promise<CheckOutcome> {
  const entry = childEntry();
  if (!entry) return runChecks(req, signal);
  // A fixed mmap threshold makes glibc hand large freed blocks (a released session's weights) back
  // to the system at once instead of keeping them for reuse, so the probe's float session and the
  // fidelity sessions do not add up.
  const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '131072' };
  const child = spawn(process.execPath, ['--expose-gc', ...entry.execArgv, entry.file], { stdio: ['pipe', 'pipe', 'pipe'], env });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const abort = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', abort, { once: true });
  child.stdin.end(JSON.stringify(req));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    if (signal?.aborted) throw new CancelledError();
    const text = Buffer.concat(stdout).toString('utf8');
    if (code !== 0 || !text) {
      throw new WorkError(`the validation process failed (exit ${code ?? 'signal'}): ${Buffer.concat(stderr).toString('utf8').trim().split('\n').slice(-3).join(' ')}`);
    }
    return JSON.parse(text) as CheckOutcome;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}
