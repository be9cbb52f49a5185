/* eslint-disable @typescript-eslint/no-require-imports */
import type { Command, CommandModule } from '../io';

/**
 * Subcommands in the order `--help` lists them. Each lives in its own module, loaded when the
 * command runs (or shows its usage): `inspect` does not pay for loading the quantizer's modules,
 * which took a fifth of its whole-process time.
 */
export const commands: Command[] = [
  lazy('inspect', 'summarise a model: inputs/outputs, opsets, operators, parameters, quantization', () => (require('./inspect') as typeof import('./inspect')).inspectCommand),
  lazy('quantize', 'quantize a model (dynamic, static, weight-only int4/int8, fp16) and validate it in ONNX Runtime', () => (require('./quantize') as typeof import('./quantize')).quantizeCommand),
  lazy('bench', 'time a model in ONNX Runtime (CPU): mean and p50/p90/p99 latency', () => (require('./bench') as typeof import('./bench')).benchCommand),
  lazy('compare', 'compare a reference and a candidate model: size, latency, output fidelity, accuracy', () => (require('./compare') as typeof import('./compare')).compareCommand),
];

function lazy(name: string, summary: string, load: () => CommandModule): Command {
  return {
    name,
    summary,
    get usage() {
      return load().usage;
    },
    run: (argv, io, signal) => {
      const command = load();
      return command.run.call(command, argv, io, signal);
    },
  };
}
