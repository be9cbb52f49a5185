import { InputError } from '../../core/errors';
import { benchModel } from '../../core/evaluate/bench';
import { numberOption, parseCommandArgs, table, type Command } from '../io';

export const benchCommand: Command = {
  name: 'bench',
  summary: 'time a model in ONNX Runtime (CPU): mean and p50/p90/p99 latency',
  usage: 'onnx-quantizer bench MODEL [--data PATH] [--batch N] [--runs N] [--warmup N] [--threads N] [--json]',
  async run(argv, io, signal) {
    const { positionals, values } = parseCommandArgs(
      argv,
      {
        data: { type: 'string' },
        batch: { type: 'string' },
        runs: { type: 'string' },
        warmup: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean' },
      },
      this.usage,
    );
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new InputError(`expected one MODEL\nusage: ${this.usage}`);
    const r = await benchModel(
      file,
      {
        data: values.data,
        batch: wholeNumber(values.batch, 'batch', 1, 1),
        runs: wholeNumber(values.runs, 'runs', 100, 1),
        warmup: wholeNumber(values.warmup, 'warmup', 10, 0),
        threads: values.threads === undefined ? undefined : wholeNumber(values.threads, 'threads', 1, 1),
      },
      { signal, onProgress: io.interactive && !values.json ? (p) => p.message && io.err(`${p.stage}: ${p.message}`) : undefined },
    );
    if (values.json) {
      io.out(JSON.stringify(r));
      return 0;
    }
    io.out(`${file}: ${r.runs} runs after ${r.warmup} warm-up, batch ${r.batch}, ${r.threads} threads, ${r.inputs} inputs`);
    io.out(table(['mean', 'p50', 'p90', 'p99', 'min', 'max'], [[r.meanMs, r.p50Ms, r.p90Ms, r.p99Ms, r.minMs, r.maxMs].map((v) => `${v.toFixed(3)} ms`)]));
    return 0;
  },
};

/** A whole-number option (runs, batch, threads): refuses fractions and junk with exit 2. */
export function wholeNumber(value: string | undefined, name: string, fallback: number, min: number): number {
  const n = numberOption(value, name, fallback, min);
  if (!Number.isSafeInteger(n)) throw new InputError(`--${name} expects a whole number, got '${value}'`);
  return n;
}
