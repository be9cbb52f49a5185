import { InputError } from '../../core/errors';
import { benchModel } from '../../core/evaluate/bench';
import { inputOverridesFrom } from '../../core/data/probe';
import { cpuFlagsText, environmentInfo } from '../../core/report/environment';
import { inertText } from '../../core/report/format';
import { numberOption, parseCommandArgs, table, type CommandModule } from '../io';

export const benchCommand: CommandModule = {
  name: 'bench',
  usage: 'onnx-quantizer bench MODEL [--data PATH] [--input-shape NAME=D1xD2…]… [--input NAME=VALUE|FILE.npy]… [--batch N] [--runs N] [--warmup N] [--threads N] [--json]',
  async run(argv, io, signal) {
    const { positionals, values } = parseCommandArgs(
      argv,
      {
        data: { type: 'string' },
        batch: { type: 'string' },
        runs: { type: 'string' },
        warmup: { type: 'string' },
        threads: { type: 'string' },
        'input-shape': { type: 'string', multiple: true },
        input: { type: 'string', multiple: true },
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
        inputs: inputOverridesFrom(values['input-shape'], values.input),
      },
      { signal, onProgress: io.interactive && !values.json ? (p) => p.message && io.err(`${p.stage}: ${p.message}`) : undefined },
    );
    if (values.json) {
      io.out(JSON.stringify(r));
      return 0;
    }
    io.out(`${file}: ${r.runs} runs after ${r.warmup} warm-up, batch ${r.batch}, ${r.threads} threads, ${r.inputs} inputs`);
    if (r.inputShapes) io.out(`inputs: ${inertText(r.inputShapes)}`);
    io.out(`CPU: ${cpuLine()}`);
    io.out(table(['mean', 'p50', 'p90', 'p99', 'min', 'max'], [[r.meanMs, r.p50Ms, r.p90Ms, r.p99Ms, r.minMs, r.maxMs].map((v) => `${v.toFixed(3)} ms`)]));
    if (r.control) io.out(controlLine(r.control));
    return 0;
  },
};

/** `Intel Xeon … (AVX2, no AVX-512 VNNI, no AVX-VNNI)`: the facts that decide int8 speed, read from /proc/cpuinfo. */
export function cpuLine(): string {
  const e = environmentInfo(0);
  return `${e.cpuModel}, ${e.logicalCpus} logical CPUs (${cpuFlagsText(e)})`;
}

/** The A/A control in words: a second session of the same model, timed in the same alternation. */
export function controlLine(c: { p50Ms: number; ratio: number; withinTolerance: boolean }): string {
  const pct = ((c.ratio - 1) * 100).toFixed(1);
  return `A/A control (the model against a second session of itself): p50 ${c.p50Ms.toFixed(3)} ms, ${c.ratio.toFixed(3)}× (${Number(pct) >= 0 ? '+' : ''}${pct} %): ${
    c.withinTolerance ? 'within ±5 %, the timing is trustworthy' : 'OUTSIDE ±5 %: the machine is too noisy for these figures to mean much'
  }`;
}

/** A whole-number option (runs, batch, threads): refuses fractions and junk with exit 2. */
export function wholeNumber(value: string | undefined, name: string, fallback: number, min: number): number {
  const n = numberOption(value, name, fallback, min);
  if (!Number.isSafeInteger(n)) throw new InputError(`--${name} expects a whole number, got '${value}'`);
  return n;
}
