/** The quantization report file (`MODEL.quant-report.json`) as a plain JSON type. */
import type { AutoExcludeSummary, CompareResult, QuantizeFidelity } from '../evaluate/types';

export interface EnvironmentInfo {
  ortVersion: string;
  nodeVersion: string;
  platform: string;
  arch: string;
  cpuModel: string;
  logicalCpus: number;
  /** Instruction-set extensions that decide int8 speed on x86 (false elsewhere). */
  cpuFlags: { avx2: boolean; avx512f: boolean; avx512vnni: boolean; avxvnni: boolean; amx: boolean };
  /** Intra-op threads used for timing. */
  threads: number;
}

/** `MODEL.quant-report.json`: a comparison plus how it was produced and where. */
export interface QuantReport extends CompareResult {
  kind: 'onnx-quantizer-report';
  schemaVersion: 1;
  createdAt: string;
  /** Quantization options used (as given to the quantizer), when known. */
  options?: Record<string, unknown>;
  quantize?: {
    mode: string;
    quantizedNodes: number;
    skippedNodes: { node: string; reason: string }[];
    seconds: number;
    warnings: string[];
    /** Measured by the quantizer right after quantizing (see QuantizeFidelity). */
    fidelity?: QuantizeFidelity;
  };
  autoExclude?: AutoExcludeSummary;
  environment: EnvironmentInfo;
}
