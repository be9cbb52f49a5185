/**
 * `npm run sweep`: every ONNX backend test model through the quantizer (dynamic, and static with
 * the test's inputs as calibration data), compared with float in ONNX Runtime.
 *
 *   npm run sweep [-- --json] [--sample] [--only PREFIX] [--modes dynamic,static] [--timeout S] [--markdown FILE]
 *
 * Prints the counts and failure classes (or, with --json, {counts, opsetRefusals, classes, gate,
 * failures}); --markdown also writes the status table. Exit 1 when the gate fails (see summary.ts).
 */
import * as fs from 'node:fs';
import { BACKEND_ROOT, listBackendModels } from './backendData';
import type { SweepMode } from './outcome';
import { runSweep } from './run';
import { formatMarkdown, formatText, sampleModels } from './summary';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

async function main(): Promise<number> {
  let models = listBackendModels();
  if (models.length === 0) {
    console.error(`no backend models under ${BACKEND_ROOT} (apt-get install libonnx-testdata, or set ONNX_BACKEND_DATA)`);
    return 2;
  }
  if (flag('--sample')) models = sampleModels(models);
  const only = value('--only');
  if (only) models = models.filter((m) => m.id.startsWith(only));
  const modes = (value('--modes')?.split(',') ?? ['dynamic', 'static']) as SweepMode[];
  const timeoutMs = Number(value('--timeout') ?? 60) * 1000;
  const json = flag('--json');
  const run = await runSweep(models, {
    modes,
    timeoutMs,
    onProgress: (done, total) => {
      if (!json && (done % 50 === 0 || done === total)) process.stderr.write(`  ${done}/${total} models\n`);
    },
  });
  if (json) {
    const { summary, gate, failures } = run;
    console.log(JSON.stringify({ models: summary.models, seconds: Math.round(run.seconds), counts: summary.counts, opsetRefusals: summary.opsetRefusals, gate, classes: summary.classes, failures }, null, 2));
  } else {
    console.log(formatText(run.summary, run.failures, run.gate));
    for (const f of run.failures.slice(0, 40)) console.log(`  ${f.mode} ${f.verdict} ${f.model}: ${f.cls}${f.detail ? ` (${f.detail})` : ''}`);
    console.log(`\n${run.seconds.toFixed(0)} s`);
  }
  const md = value('--markdown');
  if (md) {
    const note = `Generated ${new Date().toISOString().slice(0, 16)}Z by \`npm run sweep -- --markdown\` (${run.seconds.toFixed(0)} s).`;
    fs.writeFileSync(md, formatMarkdown(run.summary, run.gate, note));
  }
  return run.failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
