/**
 * The one place that loads onnxruntime-node. Loaded lazily: `inspect`, the language server and
 * the extension host never pay for (or crash on) the native module.
 */
import type * as OrtTypes from 'onnxruntime-node';
import { WorkError } from '../errors';

export type Ort = typeof OrtTypes;
export type InferenceSession = OrtTypes.InferenceSession;
export type OrtTensor = OrtTypes.Tensor;

let cached: Ort | undefined;

export function ort(): Ort {
  if (!cached) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      cached = require('onnxruntime-node') as Ort;
    } catch (e) {
      throw new WorkError(`onnxruntime-node could not be loaded: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return cached;
}

export interface SessionOptions {
  /** Intra-op threads; 0 or undefined lets ONNX Runtime decide. */
  threads?: number;
  /** 'all' (deployment default) or 'disabled' (to read unoptimised intermediate values). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write ORT's optimised graph here (to check which fusions happened). */
  optimizedModelFilePath?: string;
  /** Extra session config entries (e.g. session.x64quantprecision). */
  config?: Record<string, string>;
  /**
   * false: worker threads sleep between runs instead of spinning. Sessions timed in alternation
   * need it: a session's spinning threads otherwise take CPU from the next one (1-23 % at batch 1).
   */
  spinning?: boolean;
  /**
   * false: no CPU memory arena (each tensor allocated and freed on its own). The arena keeps the
   * largest working set it ever saw, in chunks that grow by powers of two; calibration sessions,
   * which must stay within a measured memory budget, run without it.
   */
  memoryArena?: boolean;
}

/**
 * The level of the sessions that compare outputs (validation, fidelity). 'all' adds layout
 * rewrites on top (NCHWc Conv filters), which leave the figures compared here as they were (a max
 * abs error moves in its 7th digit) but hold the weights about three times over while the session
 * is created (a 56 MiB ResNet-18-class model: 175 MiB over the process instead of 102). The speed
 * check times the model at 'all', as it runs.
 */
export const CHECK_OPTIMIZATION = 'extended';

/** Create a CPU session from a file path or model bytes; load failures become WorkError. */
export async function createSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<InferenceSession> {
  const o = ort();
  const sessionOptions: OrtTypes.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.optimization ?? 'all',
    logSeverityLevel: 3,
  };
  if (options.threads) {
    sessionOptions.intraOpNumThreads = options.threads;
    sessionOptions.interOpNumThreads = 1;
  }
  if (options.memoryArena === false) sessionOptions.enableCpuMemArena = false;
  if (options.optimizedModelFilePath) sessionOptions.optimizedModelFilePath = options.optimizedModelFilePath;
  const config = { ...(options.spinning === false ? NO_SPINNING : {}), ...options.config };
  if (Object.keys(config).length) (sessionOptions as { extra?: unknown }).extra = { session: {}, ...nestConfig(config) };
  try {
    return typeof model === 'string'
      ? await o.InferenceSession.create(model, sessionOptions)
      : await o.InferenceSession.create(model, sessionOptions);
  } catch (e) {
    throw new WorkError(`ONNX Runtime cannot load the model: ${(e as Error).message.split('\n')[0]}`);
  }
}

const NO_SPINNING = { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' };

/** 'session.x64quantprecision' → {session: {x64quantprecision: ...}} as onnxruntime-node expects in `extra`. */
function nestConfig(config: Record<string, string>): Record<string, unknown> {
  const out: Record<string, Record<string, string>> = {};
  for (const [k, v] of Object.entries(config)) {
    const [head, ...rest] = k.split('.');
    (out[head!] ??= {})[rest.join('.')] = v;
  }
  return out;
}

export function ortVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
