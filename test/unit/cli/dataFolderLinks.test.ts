/**
 * Links in data folders (calibration data, `--data`): an entry that leads, links followed, out of
 * the folder and out of the model's folder (CLI) or the workspace (the editor's jobs, through the
 * real worker bundle) is refused before it is read, with the entry named; links that stay inside
 * are followed, and a folder or file the user names directly is not confined.
 *
 *   top/proj/            the workspace of the editor runs
 *     models/model.onnx  digits_mlp (input 'image')
 *     models/shared/x.npy, models/calib_in/image.npy → ../shared/x.npy   inside the model's folder
 *     data/x.npy,          models/calib_ws/image.npy → ../../data/x.npy  inside the workspace only
 *                          models/calib_out/image.npy → top/elsewhere/x.npy  outside both
 *   top/elsewhere/x.npy, top/elsewhere/plain/image.npy (a regular file)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { InputError } from '../../../src/core/errors';
import { JobRunner } from '../../../src/extension/jobs/jobRunner';
import type { Log } from '../../../src/extension/jobs/workerProcess';
import { JOB_PROTOCOL, validateJob, type JobRequest, type JobResults } from '../../../src/shared/protocol';
import { makeTempDir } from '../../fixtures/build';
import { ROOT, buildCli, runCli, type CliResult } from './inspect-helpers';

const FIXTURES = path.join(ROOT, 'test/fixtures');
const tmp = makeTempDir('onnxq-data-links-');
process.on('exit', tmp.cleanup);
const top = tmp.dir;
const ws = path.join(top, 'proj');
const models = path.join(ws, 'models');
const model = path.join(models, 'model.onnx');
const elsewhere = path.join(top, 'elsewhere');
const folderOf = (name: string) => path.join(models, name);

const LEADS_OUT = /'image\.npy' in data folder '[^']*calib_(out|ws)' is a link leading out of the folder and '[^']+'; refused/;

function setUp(): void {
  for (const d of [path.join(models, 'shared'), path.join(ws, 'data'), path.join(elsewhere, 'plain')]) fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(path.join(FIXTURES, 'digits_mlp.onnx'), model);
  const calib = path.join(FIXTURES, 'digits_calib_x.npy');
  for (const f of [path.join(models, 'shared/x.npy'), path.join(ws, 'data/x.npy'), path.join(elsewhere, 'x.npy'), path.join(elsewhere, 'plain/image.npy')]) fs.copyFileSync(calib, f);
  for (const [name, target] of [['calib_in', '../shared/x.npy'], ['calib_ws', '../../data/x.npy'], ['calib_out', path.join(elsewhere, 'x.npy')]] as const) {
    fs.mkdirSync(folderOf(name));
    fs.symlinkSync(target, path.join(folderOf(name), 'image.npy'));
  }
}

function refused(r: CliResult, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, LEADS_OUT, what);
}

const outputsIn = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.onnx') && f !== 'model.onnx');

before(() => {
  setUp();
  buildCli();
});

describe('CLI: a data folder stays in the model\'s folder', () => {
  test('static calibration, --data (fidelity), bench and compare refuse a folder entry linking out of the model\'s folder', () => {
    const out = path.join(models, 'q.onnx');
    for (const calib of ['calib_out', 'calib_ws']) {
      refused(runCli(['quantize', model, '-o', out, '--mode', 'static', '--calibration-data', folderOf(calib)]), `quantize --calibration-data ${calib}`);
      refused(runCli(['quantize', model, '-o', out, '--mode', 'dynamic', '--data', folderOf(calib)]), `quantize --data ${calib}`);
      refused(runCli(['bench', model, '--data', folderOf(calib), '--runs', '1', '--warmup', '0']), `bench --data ${calib}`);
      refused(runCli(['compare', model, model, '--data', folderOf(calib), '--runs', '1']), `compare --data ${calib}`);
    }
    assert.deepEqual(outputsIn(models), [], 'nothing written');
  });

  test('a link inside the model\'s folder is followed, and a folder named directly is not confined', () => {
    for (const [calib, out] of [[folderOf('calib_in'), 'in.onnx'], [path.join(elsewhere, 'plain'), 'plain.onnx']] as const) {
      const r = runCli(['quantize', model, '-o', path.join(models, out), '--mode', 'static', '--calibration-data', calib, '--no-speed-check']);
      assert.equal(r.code, 0, `${calib}: exit ${r.code}\n${r.stderr}`);
      assert.ok(fs.statSync(path.join(models, out)).size > 0);
    }
    const bench = runCli(['bench', model, '--data', folderOf('calib_in'), '--runs', '2', '--warmup', '0']);
    assert.equal(bench.code, 0, bench.stderr);
  });
});

class NoLog implements Log {
  trace = (): void => {};
  debug = (): void => {};
  info = (): void => {};
  warn = (): void => {};
  error = (): void => {};
}

describe('editor jobs (the worker bundle): a data folder stays in the workspace', () => {
  let runner: JobRunner<JobRequest, JobResults>;
  before(async () => {
    // Bundled like scripts/esbuild.mjs does, into a folder from which onnxruntime-node still resolves.
    const bundleDir = path.join(ROOT, 'node_modules/.cache', `onnx-quantizer-data-links-${process.pid}`);
    process.on('exit', () => fs.rmSync(bundleDir, { recursive: true, force: true }));
    const script = path.join(bundleDir, 'worker.js');
    await esbuild.build({
      entryPoints: [path.join(ROOT, 'src/worker/worker.ts')],
      outfile: script,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['vscode', 'onnxruntime-node'],
      logLevel: 'error',
    });
    runner = new JobRunner<JobRequest, JobResults>({ script, log: new NoLog(), protocol: JOB_PROTOCOL });
  });
  after(() => runner?.dispose());

  test('with the workspace as dataRoots, a link to elsewhere is refused and one into the workspace is followed', async () => {
    const dataRoots = [ws];
    const out = path.join(models, 'job.onnx');
    const quantize = (calib: string) => runner.run({ kind: 'quantize', model, output: out, options: { mode: 'static', calibrationData: folderOf(calib), speedCheck: false, dataRoots } });
    await assert.rejects(quantize('calib_out'), (e: Error) => e instanceof InputError && LEADS_OUT.test(e.message));
    await assert.rejects(runner.run({ kind: 'bench', model, data: folderOf('calib_out'), runs: 1, warmup: 0, dataRoots }), (e: Error) => e instanceof InputError && LEADS_OUT.test(e.message));
    await assert.rejects(runner.run({ kind: 'compare', reference: model, candidate: model, data: folderOf('calib_out'), runs: 1, dataRoots }), (e: Error) => e instanceof InputError && LEADS_OUT.test(e.message));
    assert.ok(!fs.existsSync(out), 'nothing written');
    // calib_ws leads out of the model's folder but stays in the workspace: the editor's confinement.
    const r = await quantize('calib_ws');
    assert.ok(r.quantizedNodes > 0 && fs.existsSync(out));
  });

  test('the job protocol refuses dataRoots that are not paths', () => {
    assert.match(validateJob({ kind: 'bench', model, dataRoots: 'x' }) ?? '', /dataRoots must be paths/);
    assert.match(validateJob({ kind: 'compare', reference: model, candidate: model, dataRoots: [1] }) ?? '', /dataRoots must be paths/);
    assert.match(validateJob({ kind: 'quantize', model, output: 'o.onnx', options: { mode: 'dynamic', dataRoots: [''] } }) ?? '', /dataRoots must be paths/);
    assert.equal(validateJob({ kind: 'bench', model, dataRoots: [ws] }), undefined);
  });
});
