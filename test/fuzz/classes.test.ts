/**
 * Hostile CLI runs by class (generators in classes.ts), through the built CLI: every run must
 * end by itself with an expected exit status, the reason a refusal must give, and no stack trace
 * (else a crash), within the hang
 * bound (else a hang), leave every file of its folder and of the `outside` folder next to it as
 * it was except the outputs it may write (files left or changed), and print nothing that acts
 * on a terminal (escapes); a hostile recipe that runs (exit 0) is an escape too. Prints per
 * class: cases, crashes, hangs, files left or changed, escapes; all but cases must be 0. `npm
 * test` runs a sample (FUZZ_CLASS_CASES, default 6 per class); `npm run fuzz` runs 60 per class.
 * A class with a weight runs that many times more (hostile recipes: 5, quick refusals).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededRandom } from '../../src/core/util/random';
import { buildCli, runCli } from '../unit/cli/inspect-helpers';
import { makeTempDir } from '../fixtures/build';
import { CLASSES, type FuzzRun } from './classes';

const PER_CLASS = Number(process.env.FUZZ_CLASS_CASES ?? (process.env.FUZZ_FULL === '1' ? 60 : 6));
const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
/** A run still going after this is killed and counted as a hang. */
const HANG_MS = 20000;
// eslint-disable-next-line no-control-regex -- the characters that must not reach a terminal
const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

interface Tally {
  cases: number;
  crashes: number;
  hangs: number;
  filesLeftOrChanged: number;
  escapes: number;
}

/** Every entry under `roots` with a digest of its content (or its kind, for special files). */
function snapshot(roots: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(p, createHash('sha1').update(fs.readFileSync(p)).digest('hex'));
      else out.set(p, e.isSymbolicLink() ? `link:${fs.readlinkSync(p)}` : 'special');
    }
  };
  for (const r of roots) if (fs.existsSync(r)) walk(r);
  return out;
}

function changedFiles(before: Map<string, string>, after: Map<string, string>, run: FuzzRun): string[] {
  const allowed = new Set(run.mayWrite);
  const changed: string[] = [];
  for (const [p, h] of after) if (before.get(p) !== h && !allowed.has(p)) changed.push(p);
  for (const p of before.keys()) if (!after.has(p)) changed.push(`${p} (removed)`);
  return changed;
}

test(`hostile CLI runs by class, ${PER_CLASS} per class (seed ${SEED})`, () => {
  buildCli();
  const tmp = makeTempDir('onnxq-fuzz-classes-');
  const tallies = new Map<string, Tally>();
  const problems: string[] = [];
  try {
    const rng = seededRandom(SEED);
    let n = 0;
    for (const cls of CLASSES) {
      const t: Tally = { cases: 0, crashes: 0, hangs: 0, filesLeftOrChanged: 0, escapes: 0 };
      tallies.set(cls.name, t);
      for (let i = 0; i < PER_CLASS * (cls.weight ?? 1); i++) {
        const root = path.join(tmp.dir, `case${n++}`);
        const dir = path.join(root, 'ws');
        fs.mkdirSync(dir, { recursive: true });
        const run = cls.make(dir, rng, i);
        const before = snapshot([root]);
        const r = runCli(run.args, { timeoutMs: HANG_MS, cwd: dir });
        const what = `${cls.name} #${i}: onnx-quantizer ${JSON.stringify(run.args.map((a) => a.replace(root, '…')))}`;
        t.cases++;
        if (r.signal === 'SIGKILL') {
          t.hangs++;
          problems.push(`${what}: hung (killed after ${HANG_MS} ms)`);
        } else if (run.recipe && r.code === 0) {
          t.escapes++;
          problems.push(`${what}: the hostile recipe ran (exit 0)\n${r.stderr.slice(0, 300)}`);
        } else if (r.code === null || !run.exits.includes(r.code) || /^\s+at .+:\d+:\d+\)?$/m.test(r.stderr) || (run.says && !run.says.test(r.stderr))) {
          t.crashes++;
          problems.push(`${what}: exit ${r.code ?? r.signal}, expected ${run.exits.join('|')}${run.says ? ` saying ${run.says}` : ''}\n${r.stderr.slice(0, 600)}`);
        }
        const changed = changedFiles(before, snapshot([root]), run);
        if (changed.length) {
          t.filesLeftOrChanged++;
          problems.push(`${what}: left or changed ${changed.map((c) => c.replace(root, '…')).join(', ')}`);
        }
        const active = (r.stdout + r.stderr).match(ACTIVE)?.length ?? 0;
        if (active) {
          t.escapes++;
          problems.push(`${what}: ${active} active characters printed`);
        }
        fs.rmSync(root, { recursive: true, force: true });
      }
    }
  } finally {
    tmp.cleanup();
    const rows = [...tallies].map(([name, t]) => `${name.padEnd(20)} ${String(t.cases).padStart(5)} ${String(t.crashes).padStart(7)} ${String(t.hangs).padStart(5)} ${String(t.filesLeftOrChanged).padStart(22)} ${String(t.escapes).padStart(7)}`);
    console.log(['class                cases crashes hangs files left or changed escapes', ...rows].join('\n'));
  }
  assert.deepEqual(problems, [], problems.slice(0, 10).join('\n\n'));
});
