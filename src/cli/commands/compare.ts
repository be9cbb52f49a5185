import { InputError } from '../../core/errors';
import { compareModels } from '../../core/evaluate/compare';
import { buildReport, checkReportPaths, writeReports } from '../../core/report';
import type { CompareResult } from '../../core/evaluate/types';
import { evaluationDataText, formatBytes, formatSqnr, inertText } from '../../core/report/format';
import { parseCommandArgs, table, type CliIO, type CommandModule } from '../io';
import { inputOverridesFrom } from '../../core/data/probe';
import { controlLine, cpuLine, wholeNumber } from './bench';
import { modelFilePathsAt } from '../../core/onnx/model';
import { optionInputs } from '../../core/util/writeGuard';

export const compareCommand: CommandModule = {
  name: 'compare',
  usage:
    'onnx-quantizer compare REFERENCE CANDIDATE [--data PATH] [--labels LABELS.npy] [--input-shape NAME=D1xD2…]… [--input NAME=VALUE|FILE.npy]… [--runs N] [--per-layer] [--warmup N] [--batch N] [--threads N] [--report [--force]] [--json]',
  async run(argv, io, signal) {
    const { positionals, values } = parseCommandArgs(
      argv,
      {
        data: { type: 'string' },
        labels: { type: 'string' },
        runs: { type: 'string' },
        warmup: { type: 'string' },
        batch: { type: 'string' },
        threads: { type: 'string' },
        'per-layer': { type: 'boolean' },
        'input-shape': { type: 'string', multiple: true },
        input: { type: 'string', multiple: true },
        report: { type: 'boolean' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      this.usage,
    );
    if (positionals.length !== 2) throw new InputError(`expected REFERENCE and CANDIDATE\nusage: ${this.usage}`);
    const [reference, candidate] = positionals as [string, string];
    const inputs = inputOverridesFrom(values['input-shape'], values.input);
    // Reports follow the rules of -o: checked before the work, never an input (either model's data
    // files and --input value files included), replaced only with --force.
    const reportRules = {
      model: reference,
      inputs: values.report ? [...modelFilePathsAt(reference), ...modelFilePathsAt(candidate), values.data, values.labels, ...optionInputs({ inputs })] : [],
      force: values.force ?? false,
    };
    if (values.force && !values.report) throw new InputError('--force goes with --report');
    if (values.report) checkReportPaths(candidate, reportRules);
    const result = await compareModels(
      reference,
      candidate,
      {
        data: values.data,
        labels: values.labels,
        runs: wholeNumber(values.runs, 'runs', 50, 1),
        warmup: wholeNumber(values.warmup, 'warmup', 5, 0),
        batch: wholeNumber(values.batch, 'batch', 1, 1),
        threads: values.threads === undefined ? undefined : wholeNumber(values.threads, 'threads', 1, 1),
        perLayer: values['per-layer'] ?? false,
        inputs,
      },
      { signal, onProgress: io.interactive && !values.json ? (p) => p.message && io.err(`${p.stage}: ${p.message}`) : undefined },
    );
    let reportFiles: string[] | undefined;
    if (values.report) {
      const files = writeReports(buildReport(result), candidate, reportRules);
      reportFiles = [files.json, files.markdown, files.html];
    }
    if (values.json) io.out(JSON.stringify(reportFiles ? { ...result, reportFiles } : result));
    else printComparison(result, io, reportFiles);
    return 0;
  },
};

function printComparison(r: CompareResult, io: CliIO, reportFiles: string[] | undefined): void {
  const a = r.accuracy;
  const rows: string[][] = [
    ['size', formatBytes(r.size.referenceBytes), formatBytes(r.size.candidateBytes), `${r.size.ratio.toFixed(2)}x smaller`],
    ['latency p50', ms(r.latency.reference.p50Ms), ms(r.latency.candidate.p50Ms), `${r.latency.speedup.toFixed(2)}x faster`],
    ['latency p90', ms(r.latency.reference.p90Ms), ms(r.latency.candidate.p90Ms), ''],
    ['latency p99', ms(r.latency.reference.p99Ms), ms(r.latency.candidate.p99Ms), ''],
  ];
  if (a.referenceAccuracy !== undefined && a.candidateAccuracy !== undefined) {
    rows.push(['accuracy', pct(a.referenceAccuracy), pct(a.candidateAccuracy), `${((a.candidateAccuracy - a.referenceAccuracy) * 100).toFixed(2)} points`]);
  }
  io.out(table(['', 'reference', 'candidate', 'change'], rows));
  io.out(
    `\noutput '${inertText(a.output)}' on ${inertText(evaluationDataText(a))}: agreement ${pct(a.agreement)}, cosine ${a.cosine.toFixed(6)}, SQNR ${formatSqnr(a.sqnrDb, a.identical)}, max abs error ${a.maxAbsError.toPrecision(4)}`,
  );
  io.out(`latency: ${r.latency.runs} runs each, alternating, batch ${r.latency.batch}, ${r.latency.threads} threads; CPU: ${cpuLine()}`);
  if (r.latency.inputShapes) io.out(`inputs per run: ${inertText(r.latency.inputShapes)}`);
  if (r.latency.control) io.out(controlLine(r.latency.control));
  if (r.layers) {
    io.out(`\nper-layer error, worst first (${Math.min(15, r.layers.length)} of ${r.layers.length}; ranked by the error each node adds):`);
    io.out(
      table(
        ['tensor', 'node', 'op', 'SQNR', 'local', 'cosine'],
        r.layers.slice(0, 15).map((l) => [l.tensor, l.node, l.opType, formatSqnr(l.sqnrDb, l.identical), l.localSqnrDb === null ? '-' : formatSqnr(l.localSqnrDb), l.cosine.toFixed(6)]),
      ),
    );
  }
  if (reportFiles) io.out(`\nreport: ${reportFiles.join(', ')}`);
}

const ms = (v: number) => `${v.toFixed(3)} ms`;
const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
