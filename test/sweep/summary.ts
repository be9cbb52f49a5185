/** Counts, failure classes and the gate over a sweep's outcomes; text, JSON and Markdown forms. */
import * as path from 'node:path';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/core/onnx/builder';
import { DataType } from '../../src/core/onnx/dtype';
import { saveModel } from '../../src/core/onnx/save';
import { floatTensor } from '../../src/core/onnx/tensor';
import { encodeNpy } from '../../src/core/data/npy';
import { quantizeFile } from '../../src/core/quantize/index';
import * as fs from 'node:fs';
import type { BackendModel } from './backendData';
import { isOpsetRefusal, type Outcome, type SweepMode, type Verdict } from './outcome';
import { FAITHFUL_DB } from './sweepModel';

export const VERDICTS: Verdict[] = ['ok', 'warned', 'unchanged', 'refused', 'wrong', 'crashed', 'not-run'];
const LABEL: Record<Verdict, string> = {
  ok: `quantized, within ${FAITHFUL_DB} dB of float`,
  warned: `below ${FAITHFUL_DB} dB, and the quantizer's result said so`,
  unchanged: 'unchanged (nothing quantized)',
  refused: 'refused with a reason',
  wrong: 'wrong output',
  crashed: 'crashed',
  'not-run': 'not run (float model / test data)',
};

/** The deterministic sample run in `npm test`: every 10th model, plus all of pytorch-converted and simple. */
export function sampleModels(all: BackendModel[]): BackendModel[] {
  return all.filter((m, i) => i % 10 === 0 || m.group === 'pytorch-converted' || m.group === 'simple');
}

export interface ClassCount {
  verdict: Verdict;
  mode: SweepMode;
  cls: string;
  count: number;
  examples: string[];
  detail?: string;
}

export interface SweepSummary {
  models: number;
  counts: Record<SweepMode, Record<Verdict, number>>;
  classes: ClassCount[];
  /** Refusals for the model's opset alone, per mode. */
  opsetRefusals: Record<SweepMode, number>;
}

export function summarize(outcomes: Outcome[], models: number): SweepSummary {
  const counts = {} as SweepSummary['counts'];
  const opsetRefusals = {} as SweepSummary['opsetRefusals'];
  const classes = new Map<string, ClassCount>();
  for (const o of outcomes) {
    counts[o.mode] ??= Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
    counts[o.mode][o.verdict]++;
    opsetRefusals[o.mode] = (opsetRefusals[o.mode] ?? 0) + (isOpsetRefusal(o) ? 1 : 0);
    if (o.verdict === 'ok') continue;
    const key = `${o.mode}\u0000${o.verdict}\u0000${o.cls}`;
    const c = classes.get(key) ?? { verdict: o.verdict, mode: o.mode, cls: o.cls ?? '?', count: 0, examples: [], ...(o.detail ? { detail: o.detail } : {}) };
    c.count++;
    if (c.examples.length < 3) c.examples.push(o.model);
    classes.set(key, c);
  }
  // Gated verdicts first (they fail the sweep), then by count.
  const rank = (c: ClassCount) => (c.verdict === 'crashed' || c.verdict === 'wrong' ? 0 : 1);
  return { models, counts, classes: [...classes.values()].sort((a, b) => rank(a) - rank(b) || b.count - a.count), opsetRefusals };
}

export interface Gate {
  /** Refusals for opset alone fail the sweep in this mode (the quantizer converts old opsets there). */
  opset: Record<SweepMode, boolean>;
}

/** The outcomes that fail the sweep: every crash, every wrong output, and opset-alone refusals where gated. */
export function gateFailures(outcomes: Outcome[], gate: Gate): Outcome[] {
  return outcomes.filter((o) => o.verdict === 'crashed' || o.verdict === 'wrong' || (gate.opset[o.mode] && isOpsetRefusal(o)));
}

/**
 * Whether the quantizer converts old opsets in `mode`, found by behaviour rather than by name: a
 * two-node opset-9 model (MatMul on a weight, then Relu) is quantized; refused for its opset
 * means no conversion yet, so opset refusals are reported but do not fail the sweep.
 */
export async function convertsOldOpsets(mode: SweepMode, dir: string): Promise<boolean> {
  const w = Float32Array.from({ length: 16 * 8 }, (_, i) => Math.sin(i * 0.37));
  const graph = makeGraph(
    [makeNode('MatMul', ['x', 'w'], ['h']), makeNode('Relu', ['h'], ['y'])],
    'opset9_probe',
    [makeValueInfo('x', DataType.FLOAT, ['n', 16])],
    [makeValueInfo('y', DataType.FLOAT, ['n', 8])],
    [floatTensor('w', [16, 8], w)],
  );
  fs.mkdirSync(dir, { recursive: true });
  const input = path.join(dir, `opset9_probe_${mode}.onnx`);
  saveModel(makeModel(graph, { '': 9 }, { irVersion: 4 }), input, { force: true });
  const calib = path.join(dir, 'opset9_probe_x.npy');
  const x = Float32Array.from({ length: 8 * 16 }, (_, i) => Math.cos(i * 0.11));
  fs.writeFileSync(calib, encodeNpy({ dtype: 'float32', shape: [8, 16], data: new Uint8Array(x.buffer) }));
  try {
    const r = await quantizeFile(input, path.join(dir, `opset9_probe_${mode}.q.onnx`), { mode, force: true, ...(mode === 'static' ? { calibrationData: calib } : {}) });
    return r.quantizedNodes > 0;
  } catch (e) {
    if (/opset/i.test((e as Error).message)) return false;
    throw e;
  }
}

export function formatText(s: SweepSummary, failures: Outcome[], gate: Gate): string {
  const modes = Object.keys(s.counts) as SweepMode[];
  const lines = [`backend models swept: ${s.models}`, ''];
  lines.push(['outcome'.padEnd(36), ...modes.map((m) => m.padStart(9))].join(''));
  for (const v of VERDICTS) lines.push([LABEL[v].padEnd(36), ...modes.map((m) => String(s.counts[m][v]).padStart(9))].join(''));
  lines.push(['  of which refused for opset alone'.padEnd(36), ...modes.map((m) => String(s.opsetRefusals[m] ?? 0).padStart(9))].join(''));
  lines.push('', `gate: crashes and wrong outputs always; opset-alone refusals in ${modes.filter((m) => gate.opset[m]).join(', ') || 'no mode'} (the modes whose opset-9 probe the quantizer converts)`);
  lines.push('', 'failure classes (top 25):');
  for (const c of s.classes.filter((c) => c.verdict !== 'unchanged').slice(0, 25)) {
    lines.push(`  ${String(c.count).padStart(4)}  ${c.mode.padEnd(7)} ${c.verdict.padEnd(8)} ${c.cls}   e.g. ${c.examples.join(', ')}`);
  }
  const unchanged = s.classes.filter((c) => c.verdict === 'unchanged').slice(0, 8);
  if (unchanged.length) {
    lines.push('', 'unchanged, by first skip reason (top 8):');
    for (const c of unchanged) lines.push(`  ${String(c.count).padStart(4)}  ${c.mode.padEnd(7)} ${c.cls}   e.g. ${c.examples.join(', ')}`);
  }
  lines.push('', failures.length ? `FAILED: ${failures.length} gated outcome(s)` : 'gate passed: 0 crashed, 0 wrong' + (modes.some((m) => gate.opset[m]) ? ', 0 opset refusals where gated' : ''));
  return lines.join('\n');
}

export function formatMarkdown(s: SweepSummary, gate: Gate, note: string): string {
  const modes = Object.keys(s.counts) as SweepMode[];
  const lines = [`# Backend sweep status`, '', note, '', `Models: ${s.models} (libonnx-testdata). \`npm run sweep\` reproduces this.`, ''];
  lines.push(`| outcome | ${modes.join(' | ')} |`, `| --- | ${modes.map(() => '---:').join(' | ')} |`);
  for (const v of VERDICTS) lines.push(`| ${LABEL[v]} | ${modes.map((m) => s.counts[m][v]).join(' | ')} |`);
  lines.push(`| of which refused for opset alone | ${modes.map((m) => s.opsetRefusals[m] ?? 0).join(' | ')} |`);
  lines.push('', `Gate: crash = 0 and wrong = 0 always; opset refusal = 0 in: ${modes.filter((m) => gate.opset[m]).join(', ') || 'none yet (no opset conversion on main)'}.`);
  const cell = (t: string) => t.replace(/\|/g, '\\|').slice(0, 160);
  lines.push('', '## Top failure classes', '', '| count | mode | verdict | class | examples | first message |', '| ---: | --- | --- | --- | --- | --- |');
  for (const c of s.classes.filter((c) => c.verdict !== 'unchanged').slice(0, 30)) {
    lines.push(`| ${c.count} | ${c.mode} | ${c.verdict} | ${cell(c.cls)} | ${c.examples.join(', ')} | ${cell(c.detail ?? '')} |`);
  }
  lines.push('', '## Unchanged models, by first skip reason', '', '| count | mode | reason | examples |', '| ---: | --- | --- | --- |');
  for (const c of s.classes.filter((c) => c.verdict === 'unchanged').slice(0, 12)) {
    lines.push(`| ${c.count} | ${c.mode} | ${cell(c.cls)} | ${c.examples.join(', ')} |`);
  }
  return lines.join('\n') + '\n';
}
